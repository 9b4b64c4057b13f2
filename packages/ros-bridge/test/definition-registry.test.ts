import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import {
  DefinitionRegistry,
  normalizeTypeName,
  parseMsgText,
  type MessageDefinition,
} from '../src/decode/index.ts';

const tempDirs: string[] = [];

function makeTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fieldloop-registry-'));
  tempDirs.push(dir);
  return dir;
}

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [relative, text] of Object.entries(files)) {
    const path = join(root, relative);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}

function field(definition: MessageDefinition | undefined, name: string) {
  return definition?.definitions.find((candidate) => candidate.name === name);
}

afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('normalizeTypeName', () => {
  it('drops the msg segment of ROS 2 names', () => {
    expect(normalizeTypeName('sensor_msgs/msg/Imu')).toBe('sensor_msgs/Imu');
  });

  it('keeps ROS 1 names', () => {
    expect(normalizeTypeName('sensor_msgs/Imu')).toBe('sensor_msgs/Imu');
  });

  it('converts IDL names', () => {
    expect(normalizeTypeName('sensor_msgs::msg::Imu')).toBe('sensor_msgs/Imu');
  });

  it('keeps bare names', () => {
    expect(normalizeTypeName('Header')).toBe('Header');
  });
});

describe('parseMsgText', () => {
  it('names the root and normalizes dependency names', () => {
    const text = [
      'std_msgs/msg/Header header',
      'Part[] parts',
      '================================================================================',
      'MSG: std_msgs/msg/Header',
      'builtin_interfaces/Time stamp',
      'string frame_id',
      '================================================================================',
      'MSG: acme_msgs/Part',
      'string label',
    ].join('\n');
    const definitions = parseMsgText(text, 'acme_msgs/msg/Assembly', 'ros2');

    expect(definitions.map((definition) => definition.name)).toEqual([
      'acme_msgs/Assembly',
      'std_msgs/Header',
      'acme_msgs/Part',
    ]);
    expect(field(definitions[0], 'header')?.type).toBe('std_msgs/Header');
    expect(field(definitions[0], 'parts')?.type).toBe('acme_msgs/Part');
    expect(field(definitions[1], 'stamp')?.type).toBe('time');
  });

  it('resolves a bare name to the only matching type of another package', () => {
    const text = ['Point[] points', '=====', 'MSG: geometry_msgs/Point', 'float64 x'].join('\n');
    const definitions = parseMsgText(text, 'acme_msgs/Path', 'ros1');

    expect(field(definitions[0], 'points')?.type).toBe('geometry_msgs/Point');
  });

  it('resolves Header to std_msgs/Header', () => {
    const definitions = parseMsgText('Header header\nfloat64 value', 'acme_msgs/Reading', 'ros2');

    expect(field(definitions[0], 'header')?.type).toBe('std_msgs/Header');
  });

  it('reads byte by dialect', () => {
    const ros2 = parseMsgText('byte raw', 'acme_msgs/Raw', 'ros2');
    const ros1 = parseMsgText('byte raw', 'acme_msgs/Raw', 'ros1');

    expect(field(ros2[0], 'raw')?.type).toBe('uint8');
    expect(field(ros1[0], 'raw')?.type).toBe('int8');
  });

  it('rejects invalid text', () => {
    expect(() => parseMsgText('float64 BadName x y', 'acme_msgs/Bad', 'ros2')).toThrow();
  });
});

describe('DefinitionRegistry', () => {
  it('defaults to Humble definitions', () => {
    const registry = new DefinitionRegistry();

    expect(registry.distro).toBe('humble');
    expect(registry.has('sensor_msgs/msg/Imu')).toBe(true);
    expect(registry.sourceOf('sensor_msgs/Imu')).toBe('@foxglove/rosmsg-msgs-common ros2humble');
  });

  it.each(['galactic', 'iron', 'jazzy'] as const)('loads %s definitions', (distro) => {
    const registry = new DefinitionRegistry({ distro });

    expect(registry.has('sensor_msgs/msg/NavSatFix')).toBe(true);
    expect(registry.sourceOf('sensor_msgs/NavSatFix')).toBe(`@foxglove/rosmsg-msgs-common ros2${distro}`);
  });

  it('loads ROS 1 definitions', () => {
    const registry = new DefinitionRegistry({ distro: 'ros1' });

    expect(registry.dialect).toBe('ros1');
    expect(field(registry.get('std_msgs/Header'), 'seq')?.type).toBe('uint32');
    expect(registry.has('test_msgs/BasicTypes')).toBe(false);
  });

  it('rejects an unknown distro', () => {
    expect(() => new DefinitionRegistry({ distro: 'rolling' as 'humble' })).toThrow(/Unknown ROS distribution "rolling"/);
  });

  it('bundles test_msgs BasicTypes and Arrays', () => {
    const registry = new DefinitionRegistry();
    const basicTypes = registry.get('test_msgs/msg/BasicTypes');
    const arrays = registry.get('test_msgs/msg/Arrays');

    expect(basicTypes?.definitions.map((candidate) => candidate.name)).toEqual([
      'bool_value',
      'byte_value',
      'char_value',
      'float32_value',
      'float64_value',
      'int8_value',
      'uint8_value',
      'int16_value',
      'uint16_value',
      'int32_value',
      'uint32_value',
      'int64_value',
      'uint64_value',
    ]);
    expect(arrays?.definitions).toHaveLength(32);
    expect(field(arrays, 'basic_types_values')?.type).toBe('test_msgs/BasicTypes');
    expect(field(arrays, 'constants_values')?.type).toBe('test_msgs/Constants');
    expect(field(arrays, 'int64_values_default')?.defaultValue).toEqual([
      0n,
      9223372036854775807n,
      -9223372036854775808n,
    ]);
    expect(registry.sourceOf('test_msgs/Arrays')).toBe('bundled with fieldloop');
  });

  it('resolves a type with its dependencies', () => {
    const closure = new DefinitionRegistry().resolve('nav_msgs/msg/Odometry');

    expect(closure.ok).toBe(true);
    const names = closure.ok ? closure.definitions.map((definition) => definition.name) : [];
    expect(names[0]).toBe('nav_msgs/Odometry');
    expect(names).toContain('std_msgs/Header');
    expect(names).toContain('geometry_msgs/PoseWithCovariance');
    expect(names).toContain('geometry_msgs/Quaternion');
  });

  it('reports a missing dependency', () => {
    const registry = new DefinitionRegistry();
    registry.addMsgText('acme_msgs/Hand', 'Finger[] fingers');

    expect(registry.resolve('acme_msgs/Hand')).toEqual({
      ok: false,
      missing: { type: 'acme_msgs/Finger', neededBy: 'acme_msgs/Hand', field: 'fingers' },
    });
  });

  it('reports a missing root type', () => {
    expect(new DefinitionRegistry().resolve('acme_msgs/msg/Hand')).toEqual({
      ok: false,
      missing: { type: 'acme_msgs/Hand', neededBy: null, field: null },
    });
  });

  it('replaces definitions with added text', () => {
    const registry = new DefinitionRegistry();
    const added = registry.addMsgText('std_msgs/msg/String', 'string data\nint32 extra', 'test');

    expect(added).toEqual(['std_msgs/String']);
    expect(field(registry.get('std_msgs/String'), 'extra')?.type).toBe('int32');
    expect(registry.sourceOf('std_msgs/String')).toBe('test');
  });
});

describe('DefinitionRegistry.addMsgDirectory', () => {
  it('loads packages of a workspace', () => {
    const root = makeTempDir();
    writeFiles(root, {
      'src/acme_msgs/msg/Hand.msg': '# A hand\nHeader header\nFinger[] fingers\nint32 LEFT=0\n',
      'src/acme_msgs/msg/Finger.msg': 'string name\nfloat64 angle\n',
      'src/other_pkg/msg/Status.msg': 'acme_msgs/Finger finger\nbuiltin_interfaces/Time stamp\n',
      'src/acme_msgs/README.md': 'not a definition',
      'src/acme_msgs/srv/Grip.srv': 'int32 force\n---\nbool ok\n',
    });
    const registry = new DefinitionRegistry();
    const added = registry.addMsgDirectory(root);

    expect(added).toEqual(['acme_msgs/Finger', 'acme_msgs/Hand', 'other_pkg/Status']);
    expect(field(registry.get('acme_msgs/Hand'), 'header')?.type).toBe('std_msgs/Header');
    expect(field(registry.get('acme_msgs/Hand'), 'fingers')?.type).toBe('acme_msgs/Finger');
    expect(field(registry.get('other_pkg/Status'), 'finger')?.type).toBe('acme_msgs/Finger');
    expect(field(registry.get('other_pkg/Status'), 'stamp')?.type).toBe('time');
    expect(registry.sourceOf('acme_msgs/Hand')).toBe(join(root, 'src/acme_msgs/msg/Hand.msg'));
  });

  it('resolves loaded types with common ones', () => {
    const root = makeTempDir();
    writeFiles(root, {
      'acme_msgs/msg/Hand.msg': 'Header header\nFinger[] fingers\n',
      'acme_msgs/msg/Finger.msg': 'string name\n',
    });
    const registry = new DefinitionRegistry();
    registry.addMsgDirectory(root);
    const closure = registry.resolve('acme_msgs/msg/Hand');

    expect(closure.ok ? closure.definitions.map((definition) => definition.name) : closure).toEqual([
      'acme_msgs/Hand',
      'std_msgs/Header',
      'acme_msgs/Finger',
    ]);
  });

  it('accepts a msg folder', () => {
    const root = makeTempDir();
    writeFiles(root, { 'acme_msgs/msg/Finger.msg': 'string name\n' });

    expect(new DefinitionRegistry().addMsgDirectory(join(root, 'acme_msgs', 'msg'))).toEqual([
      'acme_msgs/Finger',
    ]);
  });

  it('follows symbolic links to files', () => {
    const root = makeTempDir();
    writeFiles(root, { 'source/Finger.msg': 'string name\n' });
    mkdirSync(join(root, 'share', 'acme_msgs', 'msg'), { recursive: true });
    symlinkSync(join(root, 'source', 'Finger.msg'), join(root, 'share', 'acme_msgs', 'msg', 'Finger.msg'));

    expect(new DefinitionRegistry().addMsgDirectory(join(root, 'share'))).toEqual(['acme_msgs/Finger']);
  });

  it('parses ROS 1 files as ROS 1', () => {
    const root = makeTempDir();
    writeFiles(root, { 'acme_msgs/msg/Raw.msg': 'byte raw\ntime stamp\n' });
    const registry = new DefinitionRegistry({ distro: 'ros1' });
    registry.addMsgDirectory(root);

    expect(field(registry.get('acme_msgs/Raw'), 'raw')?.type).toBe('int8');
  });

  it('rejects a missing directory', () => {
    const missing = join(makeTempDir(), 'absent');

    expect(() => new DefinitionRegistry().addMsgDirectory(missing)).toThrow(
      `Message definition directory ${missing} cannot be read`,
    );
  });

  it('rejects a file path', () => {
    const root = makeTempDir();
    writeFiles(root, { 'acme_msgs/msg/Finger.msg': 'string name\n' });
    const file = join(root, 'acme_msgs/msg/Finger.msg');

    expect(() => new DefinitionRegistry().addMsgDirectory(file)).toThrow(`${file} is not a directory`);
  });

  it('rejects a directory without msg files', () => {
    const root = makeTempDir();
    writeFiles(root, { 'acme_msgs/Finger.msg': 'string name\n' });

    expect(() => new DefinitionRegistry().addMsgDirectory(root)).toThrow(
      /No \.msg files found .*<package>\/msg\/<Type>\.msg/,
    );
  });

  it('rejects an invalid file and keeps the registry unchanged', () => {
    const root = makeTempDir();
    writeFiles(root, {
      'acme_msgs/msg/Finger.msg': 'string name\n',
      'acme_msgs/msg/Hand.msg': 'Finger[] fingers extra words\n',
    });
    const registry = new DefinitionRegistry();
    const sizeBefore = registry.size;

    expect(() => registry.addMsgDirectory(root)).toThrow(
      `Invalid message definition ${join(root, 'acme_msgs/msg/Hand.msg')} (type acme_msgs/Hand)`,
    );
    expect(registry.size).toBe(sizeBefore);
    expect(registry.has('acme_msgs/Finger')).toBe(false);
  });
});
