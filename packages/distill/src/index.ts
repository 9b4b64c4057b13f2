export { loadTfliteModel } from './runtime/load-tflite-model.ts';
export {
  TFLITE_ENGINES,
  TfliteEngineUnsupportedError,
  TfliteMicroOnlyError,
  type LoadedTfliteModel,
  type TfliteArray,
  type TfliteDType,
  type TfliteEngine,
  type TfliteTensorSpec,
} from './runtime/tflite-model.ts';
export { exportTflite, exportTfliteFile, writeFileAtomic, MODEL_CARD_METADATA_NAME, type ExportTfliteOptions } from './tflite/export-tflite.ts';
export { UnsupportedLayerError, SUPPORTED_LAYER_CLASSES } from './tflite/convert-layers-model.ts';
export { readTfliteInfo, type TfliteFileInfo } from './tflite/read-tflite.ts';
export { measureTfliteBytes, type TfliteByteBreakdown } from './tflite/measure-tflite-bytes.ts';
export {
  binaryKdLoss,
  classificationKdLoss,
  headKdLoss,
  hintLoss,
  maskedMean,
  regressionKdLoss,
  type KdLossOptions,
} from './kd/kd-loss.ts';
export { buildStudent, headUnits, type StudentOptions } from './student/build-student.ts';
export { distill, type DistillBatch, type DistillOptions, type DistillResult } from './kd/distill.ts';
export { augmentInputs, DEFAULT_AUGMENT, NO_AUGMENT, validateAugmentConfig, type AugmentConfig } from './kd/augment-inputs.ts';
export { exportCommand } from './cli/export-command.ts';
export { loadModelDir, normaliseImage, type ModelCard } from './cli/load-model-dir.ts';
export { distillCommand, renderDistillReport } from './cli/distill-command.ts';
export { saveModelDir } from './cli/load-model-dir.ts';
export { DISTILL_DEFAULTS, runDistillation, type DistillReport, type HeadReport, type RunDistillationOptions } from './kd/run-distillation.ts';
export {
  batchSource,
  disposeDistillBatch,
  labelTarget,
  loadStoreSamples,
  makeDistillBatch,
  preparePixels,
  type PreparedSample,
} from './data/store-samples.ts';
export { headMetric, retainedShare, type HeadMetric } from './eval/head-metrics.ts';
export { measureLatency, type Latency } from './eval/measure-latency.ts';
export { predictTflite, predictTfjs, type HeadOutputs } from './eval/predict-outputs.ts';
export { chooseWidth, WIDTH_CANDIDATES } from './student/choose-width.ts';
