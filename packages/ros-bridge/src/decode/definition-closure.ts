import type { MessageDefinition } from './msg-text.ts';

/** Finds the definition of a normalized type name, or returns undefined. */
export type DefinitionLookup = (type: string) => MessageDefinition | undefined;

/** A type that a definition needs but no source defines. */
export interface MissingDefinition {
  /** The type that has no definition. */
  type: string;
  /** The type whose field needs it, or null when the root type itself is missing. */
  neededBy: string | null;
  /** The field of `neededBy` that has this type, or null when the root type itself is missing. */
  field: string | null;
}

/** A root type with every type it uses, root first, or the first type that is missing. */
export type DefinitionClosure =
  | { ok: true; definitions: MessageDefinition[] }
  | { ok: false; missing: MissingDefinition };

/** Collects the definition of `rootType` and, transitively, of every complex type its fields use. */
export function collectDefinitions(rootType: string, lookup: DefinitionLookup): DefinitionClosure {
  const root = lookup(rootType);
  if (root === undefined) {
    return { ok: false, missing: { type: rootType, neededBy: null, field: null } };
  }

  // The root keeps the requested name, so readers can find it however the source named it.
  const definitions: MessageDefinition[] = [{ name: rootType, definitions: root.definitions }];
  const visited = new Set([rootType]);
  for (let index = 0; index < definitions.length; index++) {
    const owner = definitions[index];
    if (owner === undefined) break;
    for (const field of owner.definitions) {
      if (field.isComplex !== true || field.isConstant === true || visited.has(field.type)) continue;
      const dependency = lookup(field.type);
      if (dependency === undefined) {
        return {
          ok: false,
          missing: { type: field.type, neededBy: owner.name ?? rootType, field: field.name },
        };
      }
      visited.add(field.type);
      definitions.push({ name: field.type, definitions: dependency.definitions });
    }
  }
  return { ok: true, definitions };
}
