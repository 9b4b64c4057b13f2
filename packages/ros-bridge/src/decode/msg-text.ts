import { parse } from '@foxglove/rosmsg';

import { normalizeTypeName, packageOf } from './type-name.ts';

/** A parsed message type, as `@foxglove/rosmsg` returns it. */
export type MessageDefinition = ReturnType<typeof parse>[number];

/** One field or constant of a parsed message type. */
export type MessageDefinitionField = MessageDefinition['definitions'][number];

/**
 * `.msg` dialect. The two differ in details: ROS 1 reads `byte` as int8 and has `time` and
 * `duration` primitives, while ROS 2 reads `byte` as uint8 and maps `builtin_interfaces/Time` and
 * `builtin_interfaces/Duration` to those primitives.
 */
export type MsgDialect = 'ros1' | 'ros2';

/**
 * Parses `.msg` text into message types whose names and complex field types are all normalized
 * `pkg/Type` names. The text may carry its dependencies in sections that start with a line of
 * `=` signs and a `MSG: <type>` line, as recordings embed them. The first type returned is the
 * root, named `rootType`.
 *
 * Complex field types without a package resolve as `resolveTypeName` describes. Throws the
 * parser's Error for invalid text.
 */
export function parseMsgText(
  text: string,
  rootType: string,
  dialect: MsgDialect,
): MessageDefinition[] {
  const parsed = parse(text, { ros2: dialect === 'ros2', skipTypeFixup: true });
  const root = normalizeTypeName(rootType);

  const sections: MessageDefinition[] = [];
  const names = new Set<string>();
  for (const [index, definition] of parsed.entries()) {
    const name = index === 0 ? root : normalizeTypeName(definition.name ?? '');
    // A recording can embed the same dependency twice; the first copy wins.
    if (name === '' || names.has(name)) continue;
    names.add(name);
    sections.push({ name, definitions: definition.definitions });
  }

  return sections.map((section) => ({
    name: section.name,
    definitions: section.definitions.map((field) => {
      if (field.isComplex !== true) return field;
      return { ...field, type: resolveTypeName(field.type, section.name ?? root, names) };
    }),
  }));
}

/**
 * Resolves the type name of a complex field that `ownerType` declares. A name without a package
 * resolves within the owner's package, except in two cases. `Header` resolves to
 * `std_msgs/Header`. A name that is not a type of the owner's package among `knownTypes`, but
 * matches exactly one type of another package there, resolves to that type.
 */
export function resolveTypeName(
  fieldType: string,
  ownerType: string,
  knownTypes: ReadonlySet<string> = new Set(),
): string {
  const normalized = normalizeTypeName(fieldType);
  if (normalized.includes('/')) return normalized;
  if (normalized === 'Header') return 'std_msgs/Header';

  const ownerPackage = packageOf(ownerType);
  const samePackage = ownerPackage === null ? normalized : `${ownerPackage}/${normalized}`;
  if (knownTypes.has(samePackage)) return samePackage;
  const elsewhere = [...knownTypes].filter((type) => type.endsWith(`/${normalized}`));
  return elsewhere.length === 1 && elsewhere[0] !== undefined ? elsewhere[0] : samePackage;
}
