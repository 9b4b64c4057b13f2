import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import { ros1, ros2galactic, ros2humble, ros2iron, ros2jazzy } from '@foxglove/rosmsg-msgs-common';

import { BUNDLED_ROS2_MSG_TEXTS } from './bundled-definitions.ts';
import { collectDefinitions, type DefinitionClosure } from './definition-closure.ts';
import { parseMsgText, type MessageDefinition, type MsgDialect } from './msg-text.ts';
import { normalizeTypeName } from './type-name.ts';

/** ROS distribution whose common message definitions a registry starts from. */
export type DefinitionDistro = 'ros1' | 'galactic' | 'humble' | 'iron' | 'jazzy';

export interface DefinitionRegistryOptions {
  /** Default `humble`. `ros1` loads ROS 1 (Noetic) definitions and parses `.msg` files as ROS 1. */
  distro?: DefinitionDistro;
}

const COMMON_DEFINITIONS: Record<DefinitionDistro, Record<string, MessageDefinition>> = {
  ros1,
  galactic: ros2galactic,
  humble: ros2humble,
  iron: ros2iron,
  jazzy: ros2jazzy,
};

const COMMON_SOURCE_NAMES: Record<DefinitionDistro, string> = {
  ros1: 'ros1',
  galactic: 'ros2galactic',
  humble: 'ros2humble',
  iron: 'ros2iron',
  jazzy: 'ros2jazzy',
};

/** Folder depth below the given directory that `addMsgDirectory` searches. */
const MAX_SEARCH_DEPTH = 8;

/**
 * Message definitions by normalized type name (`pkg/Type`), for channels whose recording embeds
 * none. A new registry contains the common definitions of `@foxglove/rosmsg-msgs-common` for its
 * distribution and, for ROS 2, the bundled `test_msgs` types. Definitions added later replace
 * earlier ones of the same type.
 */
export class DefinitionRegistry {
  readonly distro: DefinitionDistro;
  readonly dialect: MsgDialect;
  readonly #definitions = new Map<string, MessageDefinition>();
  readonly #sources = new Map<string, string>();

  constructor(options: DefinitionRegistryOptions = {}) {
    const distro = options.distro ?? 'humble';
    if (!(distro in COMMON_DEFINITIONS)) {
      throw new RangeError(
        `Unknown ROS distribution "${distro}"; use one of ${Object.keys(COMMON_DEFINITIONS).join(', ')}.`,
      );
    }
    this.distro = distro;
    this.dialect = distro === 'ros1' ? 'ros1' : 'ros2';

    const commonSource = `@foxglove/rosmsg-msgs-common ${COMMON_SOURCE_NAMES[distro]}`;
    for (const [type, definition] of Object.entries(COMMON_DEFINITIONS[distro])) {
      this.add(type, definition, commonSource);
    }
    if (this.dialect === 'ros2') {
      for (const [type, text] of Object.entries(BUNDLED_ROS2_MSG_TEXTS)) {
        this.addMsgText(type, text, 'bundled with fieldloop');
      }
    }
  }

  /** Number of types held. */
  get size(): number {
    return this.#definitions.size;
  }

  /** Normalized names of all types held, sorted. */
  types(): string[] {
    return [...this.#definitions.keys()].sort();
  }

  has(type: string): boolean {
    return this.#definitions.has(normalizeTypeName(type));
  }

  get(type: string): MessageDefinition | undefined {
    return this.#definitions.get(normalizeTypeName(type));
  }

  /** Returns where the definition of `type` came from: a package, a `.msg` file path, or a caller's label. */
  sourceOf(type: string): string | undefined {
    return this.#sources.get(normalizeTypeName(type));
  }

  /** Adds or replaces one parsed definition whose complex field types are normalized names. */
  add(type: string, definition: MessageDefinition, source = 'added by caller'): void {
    const name = normalizeTypeName(type);
    this.#definitions.set(name, { name, definitions: definition.definitions });
    this.#sources.set(name, source);
  }

  /**
   * Parses `.msg` text for `type`, including any `MSG:` dependency sections, and adds every type
   * it defines. Returns the normalized names added. Throws the parser's Error for invalid text.
   */
  addMsgText(type: string, text: string, source = 'added by caller'): string[] {
    const parsed = parseMsgText(text, type, this.dialect);
    for (const definition of parsed) {
      this.add(definition.name ?? type, definition, source);
    }
    return parsed.map((definition) => definition.name ?? type);
  }

  /**
   * Loads every `<package>/msg/<Type>.msg` file found in `dir` or below it (up to 8 folders
   * deep, following symbolic links, skipping hidden folders and `node_modules`). `dir` may be
   * one package, a `msg` folder, or a workspace or install tree that contains packages.
   * Returns the normalized names added, sorted.
   * Throws when `dir` is not a directory, when it contains no such file, or when a file is invalid.
   */
  addMsgDirectory(dir: string): string[] {
    const root = resolve(dir);
    let isDirectory: boolean;
    try {
      isDirectory = statSync(root).isDirectory();
    } catch (error) {
      throw new Error(
        `Message definition directory ${root} cannot be read: ${errorText(error)}. ` +
          'Pass a folder that contains <package>/msg/<Type>.msg files.',
        { cause: error },
      );
    }
    if (!isDirectory) {
      throw new Error(
        `Message definition path ${root} is not a directory. ` +
          'Pass a folder that contains <package>/msg/<Type>.msg files.',
      );
    }

    const files = findMsgFiles(root);
    if (files.length === 0) {
      throw new Error(
        `No .msg files found in ${root} or below it. ` +
          'fieldloop expects them laid out as <package>/msg/<Type>.msg.',
      );
    }

    // Parse every file before adding any, so an invalid file leaves the registry unchanged.
    const parsed = files.map((file) => parseMsgFile(file, this.dialect));
    for (const { definition, file } of parsed) {
      this.add(definition.name ?? '', definition, file);
    }
    return parsed.map(({ definition }) => definition.name ?? '').sort();
  }

  /** Collects the definition of `type` and of every type it uses, root first. */
  resolve(type: string): DefinitionClosure {
    return collectDefinitions(normalizeTypeName(type), (name) => this.#definitions.get(name));
  }
}

function parseMsgFile(file: string, dialect: MsgDialect): { definition: MessageDefinition; file: string } {
  const packageName = basename(dirname(dirname(file)));
  const type = `${packageName}/${basename(file, '.msg')}`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`Failed to read message definition ${file}: ${errorText(error)}`, { cause: error });
  }
  let definitions: MessageDefinition[];
  try {
    definitions = parseMsgText(text, type, dialect);
  } catch (error) {
    throw new Error(`Invalid message definition ${file} (type ${type}): ${errorText(error)}`, {
      cause: error,
    });
  }
  const definition = definitions[0];
  if (definitions.length !== 1 || definition === undefined) {
    throw new Error(
      `Message definition ${file} (type ${type}) contains MSG: sections; ` +
        'a .msg file must define exactly one type.',
    );
  }
  return { definition, file };
}

/** Lists `.msg` files whose parent folder is named `msg`, in sorted path order. */
function findMsgFiles(root: string): string[] {
  const found: string[] = [];
  const visited = new Set<string>();

  const visit = (dir: string, depth: number): void => {
    const real = realpathSync(dir);
    if (visited.has(real)) return;
    visited.add(real);

    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      let stats;
      try {
        stats = statSync(path);
      } catch {
        // Skip a dangling symbolic link.
        continue;
      }
      if (stats.isDirectory()) {
        if (depth < MAX_SEARCH_DEPTH && !name.startsWith('.') && name !== 'node_modules') {
          visit(path, depth + 1);
        }
      } else if (stats.isFile() && name.endsWith('.msg') && basename(dir) === 'msg') {
        found.push(path);
      }
    }
  };

  visit(root, 0);
  return found;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
