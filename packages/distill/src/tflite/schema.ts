/**
 * Numeric codes of the TFLite flatbuffer schema (tensorflow/lite/schema/schema.fbs) that the
 * exporter writes. Field indices of each table are written where the tables are built.
 */

/** `TensorType` enum values. */
export const TensorType = {
  FLOAT32: 0,
  INT32: 2,
  INT8: 9,
} as const;
export type TensorTypeCode = (typeof TensorType)[keyof typeof TensorType];

/** `BuiltinOperator` enum values. */
export const BuiltinOperator = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  LOGISTIC: 14,
  RELU: 19,
  RELU6: 21,
  RESHAPE: 22,
  SOFTMAX: 25,
  QUANTIZE: 114,
} as const;
export type BuiltinOperatorCode = (typeof BuiltinOperator)[keyof typeof BuiltinOperator];

/** `BuiltinOptions` union type tags. */
export const BuiltinOptions = {
  NONE: 0,
  Conv2DOptions: 1,
  DepthwiseConv2DOptions: 2,
  Pool2DOptions: 5,
  FullyConnectedOptions: 8,
  SoftmaxOptions: 9,
  ConcatenationOptions: 10,
  AddOptions: 11,
  ReshapeOptions: 17,
} as const;

/** `Padding` enum values. */
export const Padding = { SAME: 0, VALID: 1 } as const;

/** `ActivationFunctionType` enum values. */
export const ActivationFunctionType = { NONE: 0, RELU: 1, RELU6: 3 } as const;

/** Schema version written into `Model.version`. */
export const TFLITE_SCHEMA_VERSION = 3;

/** Four-byte file identifier of TFLite flatbuffers. */
export const TFLITE_FILE_IDENTIFIER = 'TFL3';
