import {
  MessageReader as Ros1MessageReader,
  StandardTypeReader,
} from '@foxglove/rosmsg-serialization';
import { MessageReader as CdrMessageReader } from '@foxglove/rosmsg2-serialization';

import type { MessageDefinition } from './msg-text.ts';

/** One decoded payload. */
export interface PayloadRead {
  value: unknown;
  /**
   * Bytes that the definition consumed, counting the CDR encapsulation header. A value above
   * the payload's length means the payload is truncated. Typed arrays, and CDR strings, can then
   * hold bytes from beyond it, because both libraries read them as views of the underlying buffer.
   */
  byteLength: number;
}

/** Decodes one payload. Throws the library's Error for bytes it cannot read. */
export type PayloadReader = (data: Uint8Array) => PayloadRead;

/**
 * Creates a CDR reader with `@foxglove/rosmsg2-serialization`, which returns `time` and
 * `duration` values as `{ sec, nanosec }`. `definitions` starts with the root type.
 */
export function createCdrPayloadReader(definitions: readonly MessageDefinition[]): PayloadReader {
  // Without constants, a type that has only constants stays in place as an empty struct, which
  // CDR writes as one placeholder byte. The library would otherwise take such a root type for a
  // module of constants and decode the next type in the list as the root.
  const withoutConstants = definitions.map((definition) => ({
    name: definition.name,
    definitions: definition.definitions.filter((field) => field.isConstant !== true),
  }));
  const reader = new CdrMessageReader(withoutConstants, { timeType: 'sec,nanosec' });
  return (data) => {
    const value = reader.readMessage(data);
    return { value, byteLength: reader.lastReadByteLength() };
  };
}

/**
 * Creates a ROS 1 reader with `@foxglove/rosmsg-serialization`. That library returns instances
 * of generated record classes, with `time` and `duration` values as `{ sec, nsec }`. This reader
 * copies them into plain objects with `{ sec, nanosec }` times, so they match CDR values.
 * `definitions` starts with the root type.
 */
export function createRos1PayloadReader(definitions: readonly MessageDefinition[]): PayloadReader {
  const reader = new Ros1MessageReader(definitions);
  const toPlain = createPlainConverter(definitions);
  const rootType = definitions[0]?.name ?? '';
  return (data) => {
    const typeReader = new StandardTypeReader(data);
    const value: unknown = new reader.reader(typeReader);
    return { value: toPlain(value, rootType), byteLength: typeReader.offset };
  };
}

type FieldKind = 'value' | 'time' | 'time-array' | 'complex' | 'complex-array';

interface FieldPlan {
  name: string;
  kind: FieldKind;
  /** Type of a complex field. */
  type: string;
}

/** Builds a function that copies a decoded ROS 1 record into plain objects with ROS 2 time fields. */
function createPlainConverter(
  definitions: readonly MessageDefinition[],
): (value: unknown, type: string) => unknown {
  const byName = new Map(definitions.map((definition) => [definition.name ?? '', definition]));
  const plans = new Map<string, FieldPlan[]>();

  const planFor = (type: string): FieldPlan[] => {
    const known = plans.get(type);
    if (known !== undefined) return known;
    const plan: FieldPlan[] = [];
    for (const field of byName.get(type)?.definitions ?? []) {
      if (field.isConstant === true) continue;
      const isArray = field.isArray === true;
      let kind: FieldKind = 'value';
      if (field.type === 'time' || field.type === 'duration') {
        kind = isArray ? 'time-array' : 'time';
      } else if (field.isComplex === true) {
        kind = isArray ? 'complex-array' : 'complex';
      }
      plan.push({ name: field.name, kind, type: field.type });
    }
    plans.set(type, plan);
    return plan;
  };

  const convert = (value: unknown, type: string): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const record = value as Record<string, unknown>;
    const plain: Record<string, unknown> = {};
    for (const field of planFor(type)) {
      const fieldValue = record[field.name];
      switch (field.kind) {
        case 'value':
          plain[field.name] = fieldValue;
          break;
        case 'time':
          plain[field.name] = toNanosecTime(fieldValue);
          break;
        case 'time-array':
          plain[field.name] = Array.isArray(fieldValue) ? fieldValue.map(toNanosecTime) : fieldValue;
          break;
        case 'complex':
          plain[field.name] = convert(fieldValue, field.type);
          break;
        case 'complex-array':
          plain[field.name] = Array.isArray(fieldValue)
            ? fieldValue.map((element: unknown) => convert(element, field.type))
            : fieldValue;
          break;
      }
    }
    return plain;
  };

  return convert;
}

function toNanosecTime(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const { sec, nsec } = value as { sec?: unknown; nsec?: unknown };
  return { sec, nanosec: nsec };
}
