import { type MetaConfig } from '@zotune/meta';
import { type HostModel, type Model } from '@zotune/models';
import { type PertNN } from '@zotune/policy';
import { type Objective, type TaskBatch } from '@zotune/tasks';
export interface GradientCheckCase {
    step: number;
    task: string;
    batch: TaskBatch;
    objective: Objective;
    seed: number;
}
export interface GradientCheckSetup {
    model: Model;
    host: HostModel;
    policy: PertNN;
    config: MetaConfig;
    cases: GradientCheckCase[];
    dispose(): Promise<void>;
}
export declare function gradientCheckSetup(o: {
    model: string;
    tasks: readonly string[];
    cases: number;
}): Promise<GradientCheckSetup>;
