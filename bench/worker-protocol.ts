// What bench/worker.ts prints for the orchestrator, kept apart from worker.ts (which runs
// its measurement as soon as it is loaded).

/** The line after this mark is the worker's result, as JSON. */
export const RESULT_MARK = '@@BENCH-RESULT@@'
