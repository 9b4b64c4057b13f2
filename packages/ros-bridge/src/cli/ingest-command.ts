import { existsSync } from 'node:fs';
import type { CliCommand, CliResult } from '@fieldloop/contracts';
import { runIngest, type IngestResult } from '../ingest/run-ingest.ts';
import { loadMapping } from '../mapping/load-mapping.ts';

function formatNs(ns: string | null): string {
  if (ns === null) return '-';
  const value = BigInt(ns);
  const ms = Number(value / 1_000_000n);
  return new Date(ms).toISOString();
}

function renderText(result: IngestResult): string {
  const lines: string[] = [];
  for (const source of result.sources) {
    lines.push(`${source.path} (${source.format}, recording ${source.recording}, ${source.files.length} file(s))`);
    for (const topic of source.topics) {
      const declared = topic.declaredMessages !== null && topic.declaredMessages !== topic.messages
        ? ` (file declares ${topic.declaredMessages})`
        : '';
      const errors = topic.decodeErrors > 0 ? `, ${topic.decodeErrors} failed to decode` : '';
      lines.push(
        `  ${topic.topic}  ${topic.type}  ${topic.messages} messages${declared}${errors}  ` +
          `${formatNs(topic.firstLogTimeNs)} .. ${formatNs(topic.lastLogTimeNs)}`,
      );
    }
    for (const loss of source.losses) lines.push(`  LOST ${loss.bytes} bytes of ${loss.file}: ${loss.reason}`);
    if (source.samples > 0 || source.skipped > 0) {
      lines.push(`  samples: ${source.samples}, skipped: ${source.skipped}`);
      for (const reason of source.skipReasons) lines.push(`    skipped: ${reason}`);
    }
  }
  if (result.snapshot) {
    const s = result.snapshot;
    lines.push(`snapshot v${s.version} ${s.manifestHash}: ${s.stats.samples} samples (${s.added} new); ` +
      `train ${s.stats.perSplit.train}, val ${s.stats.perSplit.val}, test ${s.stats.perSplit.test}`);
  }
  for (const problem of result.problems) lines.push(`error: ${problem}`);
  return lines.join('\n');
}

/** `fieldloop ingest`: reads recordings and image folders into a data set snapshot. */
export const ingestCommand: CliCommand = {
  name: 'ingest',
  summary: 'read recordings and image folders; with a mapping, add their samples to a new data set snapshot',
  description:
    'Reads rosbag2 MCAP and SQLite3 bags (a file or a bag directory), ROS 1 bags and image folders with a label ' +
    'file, telling formats apart by their bytes. Without --mapping it decodes every message and reports each ' +
    'topic (type, message count, time range) and writes nothing. With --mapping it turns topics into samples ' +
    'and commits them as one new snapshot in --store; a file that was not read whole fails the ingest ' +
    'unless --allow-partial is given, and a failed ingest leaves the store unchanged.',
  arguments: '<paths...>',
  options: [
    { flags: '--store <dir>', description: 'data set store directory (created when missing); needed with --mapping' },
    { flags: '--mapping <file>', description: 'YAML or JSON mapping file: which topics or label columns become samples, and how' },
    { flags: '--allow-partial', description: 'commit the samples of a truncated or damaged file and report what was lost', defaultValue: false },
    { flags: '--msg-path <dir>', description: 'directory of <package>/msg/<Type>.msg definitions for types a recording does not embed (repeatable)', repeatable: true, defaultValue: [] },
    { flags: '--note <text>', description: 'text stored with the snapshot, to say what produced it', defaultValue: '' },
  ],
  async run(args, options, context): Promise<CliResult> {
    const missing = args.filter((path) => !existsSync(path));
    if (missing.length > 0) throw new Error(`ingest input not found: ${missing.join(', ')}; pass existing recording files, bag directories or image folders`);
    const store = typeof options.store === 'string' ? options.store : null;
    if (store !== null && typeof options.mapping !== 'string') {
      throw new Error(`ingest --store ${store} needs --mapping FILE to know which topics or label columns become samples; without --store, ingest only reports what the inputs contain`);
    }
    const mapping = typeof options.mapping === 'string' ? await loadMapping(options.mapping) : null;
    let progress = context.progress('reading', 'messages');
    const result = await runIngest({
      paths: args,
      storeDir: store,
      mapping,
      allowPartial: options.allowPartial === true,
      msgPaths: (options.msgPath as string[] | undefined) ?? [],
      note: typeof options.note === 'string' && options.note !== '' ? options.note : `fieldloop ingest ${args.join(' ')}`,
      onSourceStart(path, index) {
        progress.stop();
        context.log.info({ path, index: index + 1, of: args.length }, 'reading');
        progress = context.progress(`reading ${index + 1}/${args.length}`, 'messages');
      },
      onProgress(read) {
        if (read % 256 === 0) progress.update(read);
      },
    });
    progress.stop();
    for (const source of result.sources) {
      for (const loss of source.losses) context.log.warn({ file: loss.file, bytes: loss.bytes, messages: loss.messages }, loss.reason);
      if (source.skipped > 0) context.log.warn({ path: source.path, skipped: source.skipped }, source.skipReasons[0] ?? 'samples skipped');
    }
    return { exitCode: result.problems.length > 0 ? 1 : 0, summary: result, text: renderText(result) };
  },
};
