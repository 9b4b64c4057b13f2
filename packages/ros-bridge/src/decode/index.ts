export { DecodeError } from './decode-error.ts';
export type { DefinitionClosure, MissingDefinition } from './definition-closure.ts';
export {
  DefinitionRegistry,
  type DefinitionDistro,
  type DefinitionRegistryOptions,
} from './definition-registry.ts';
export {
  createMessageDecoder,
  SUPPORTED_MESSAGE_ENCODINGS,
  type MessageDecoder,
  type MessageDecoderOptions,
  type RosTime,
} from './message-decoder.ts';
export {
  parseMsgText,
  type MessageDefinition,
  type MessageDefinitionField,
  type MsgDialect,
} from './msg-text.ts';
export { normalizeTypeName } from './type-name.ts';
