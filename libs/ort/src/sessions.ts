// The count of ONNX Runtime sessions this process created: the ORT model adds to it (model.ts) and the
// engine's report reads it (engine.ts). Its own module so that the model, which the engine loads on
// demand, does not import the engine back.
let sessionsCreated = 0;

/** Called by the ORT model for every InferenceSession it creates. */
export function countSession(): void {
  sessionsCreated++;
}

/** ORT sessions created by this process (the JSON output reports it: proof that ORT really ran). */
export const ortSessionsCreated = (): number => sessionsCreated;
