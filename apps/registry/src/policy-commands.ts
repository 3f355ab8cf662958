// `zotune policy list|show|publish|pull|verify|rm`: the same commands for a local store and an
// HTTP registry (--registry DIR|URL). Declarations only: each action loads its code (actions.ts).
import { action } from '@zotune/report';
import type { Command } from 'commander';
import type { Common } from './actions';

export const REGISTRY_FLAG = '--registry <dir|url>';
export const REGISTRY_HELP = `registry: a store directory or an http(s):// URL (default: the shipped policies/, or $ZOTUNE_REGISTRY)`;

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('list, show, publish, pull, verify and remove perturbation policies');

  policy
    .command('list')
    .description('list the policies of a registry')
    .option(REGISTRY_FLAG, REGISTRY_HELP)
    .option('--json', 'print one JSON object')
    .action(action(async (opts: Common) => (await import('./actions')).policyList(opts)));

  policy
    .command('show')
    .description("show a policy's metadata (base model, meta-training tasks, config and metrics)")
    .argument('<ref>', 'MODEL[/NAME[:TAG]], sha256:<hex> or a policy file')
    .option(REGISTRY_FLAG, REGISTRY_HELP)
    .option('--json', 'print one JSON object')
    .action(action(async (refText: string, opts: Common) => (await import('./actions')).policyShow(refText, opts)));

  policy
    .command('publish')
    .description('publish a policy file, or a policy of another registry, into a registry')
    .argument('<source>', 'a policy file, or MODEL[/NAME[:TAG]] / sha256:<hex> in --from')
    .option('--from <dir|url>', 'registry to read SOURCE from when it is a reference (default: the shipped policies/)')
    .option(REGISTRY_FLAG, `destination ${REGISTRY_HELP}`)
    .option('--as <ref>', 'reference to publish under (default: the source reference, or MODEL/default:latest)')
    .option('--token-file <file>', 'file holding the bearer token of a remote registry')
    .option('--force', 'move the tag if it already points to other content')
    .option('--json', 'print one JSON object')
    .action(action(async (sourceText: string, opts: Common & { from?: string; as?: string; tokenFile?: string; force?: boolean }) => (await import('./actions')).policyPublish(sourceText, opts)));

  policy
    .command('pull')
    .description('copy a policy from a registry into a local store (DIR becomes, or joins, a store)')
    .argument('<ref>', 'MODEL[/NAME[:TAG]] or sha256:<hex>')
    .option(REGISTRY_FLAG, `source ${REGISTRY_HELP}`)
    .requiredOption('--to <dir>', 'local store directory')
    .option('--as <ref>', 'reference in DIR (default: the same reference, or MODEL/default:latest for a digest)')
    .option('--force', 'move the tag in DIR if it already points to other content')
    .option('--json', 'print one JSON object')
    .action(action(async (refText: string, opts: Common & { to: string; as?: string; force?: boolean }) => (await import('./actions')).policyPull(refText, opts)));

  policy
    .command('verify')
    .description('recheck every blob digest and every reference; exits 1 if anything fails')
    .option(REGISTRY_FLAG, REGISTRY_HELP)
    .option('--json', 'print one JSON object')
    .action(action(async (opts: Common) => (await import('./actions')).policyVerify(opts)));

  policy
    .command('rm')
    .description('remove a reference; its blob is deleted when no other reference points to it')
    .argument('<ref>', 'MODEL[/NAME[:TAG]]')
    .option(REGISTRY_FLAG, REGISTRY_HELP)
    .option('--token-file <file>', 'file holding the bearer token of a remote registry')
    .option('--json', 'print one JSON object')
    .action(action(async (refText: string, opts: Common & { tokenFile?: string }) => (await import('./actions')).policyRm(refText, opts)));
}
