// A count of the ORT sessions this process created: the commands' JSON output reports it (proof that
// ORT really ran).
let sessionsCreated = 0;
/** Called by the ORT model for every InferenceSession it creates. */
export function countSession(): void {
  sessionsCreated++;
}
/** ORT sessions created by this process. */
export const ortSessionsCreated = (): number => sessionsCreated;
