/**
 * src/results: volunteers' classifications back from Zooniverse, extracted
 * and reduced per subject (issue 14, the results loop). A pure library like
 * src/imaging: it imports nothing else of the project and no service
 * package, so the API, the workers and the CLI use the same code.
 *
 * Pipeline: RawClassification (export-csv.ts, or the API adapter) ->
 * extractClassification (extract.ts) -> repeat rule (repeats.ts) ->
 * reducers (question, survey, drawing/DBSCAN, SWAP) either all at once
 * (reduceAll) or incrementally on a stored JSON state (RunningReducer).
 */
export * from './types.js';
export { volunteerKey, compareIds, compareCreated } from './volunteer.js';
export { extractClassification, extractInto, type ExtractOptions, type ExtractResult } from './extract.js';
export { filterRepeats, type RepeatOrder } from './repeats.js';
export { pielouEvenness, reduceQuestion, summariseQuestion, addQuestion, emptyQuestionCounts, type Consensus, type QuestionReduction, type QuestionCounts } from './reduce-question.js';
export { reduceSurvey, summariseSurvey, addSurvey, emptySurveyCounts, type SurveyReduction, type SurveyChoiceReduction, type SurveyCounts } from './reduce-survey.js';
export { dbscan, DEFAULT_DBSCAN, type DbscanOptions } from './dbscan.js';
export { reduceDrawing, clusterMarkSet, type Cluster, type ToolReduction, type DrawingReduction, type MarkSet } from './reduce-drawing.js';
export { bayes, skillOf, swapApply, swapResult, resolveSwap, type SwapOptions, type SwapReduction, type SwapStatus, type SwapSubject, type VolunteerSkill } from './swap.js';
export { type ReduceOptions, type SubjectReduction, type TaskReduction, subjectKey } from './reduce-options.js';
export { reduceAll, type ReduceAllResult } from './reduce-all.js';
export { KeptVolunteers } from './kept-volunteers.js';
export { RunningReducer, type RunningState, type SubjectState, type TaskState, type ApplyResult } from './running.js';
export { readClassificationExport, readClassificationExportBatches, ExportRowError, ExportReadError, type ExportReadOptions } from './export-csv.js';
