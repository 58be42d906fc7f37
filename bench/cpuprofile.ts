// Reading a V8 .cpuprofile (written by `node --cpu-prof`) and ranking functions by self time.
// Each profile node is one call-tree position with the samples that landed in it (hitCount); the
// same function appears at many positions, so self samples are summed per function+location.
// Locations in dist/*.js are mapped back to the TypeScript source through the .js.map files.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based. */
  lineNumber: number;
  /** 0-based. */
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds. */
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface SelfTimeEntry {
  functionName: string;
  /** 'proxy/session/query-relay.ts:123' (source-mapped when possible), 'node:net:…', or '' for VM entries. */
  location: string;
  samples: number;
  ms: number;
  /** Share of all samples, in percent. */
  percent: number;
}

export interface SelfTimeReport {
  totalSamples: number;
  /** Samples outside '(idle)'. */
  busySamples: number;
  durationMs: number;
  entries: SelfTimeEntry[];
}

export function readCpuProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

/** Maps file:// locations of generated JS to their original source (cached per file). */
class Locator {
  private readonly maps = new Map<string, SourceMap | null>();

  constructor(private readonly root: string) {}

  locate(frame: CallFrame): string {
    if (frame.url === '') return frame.functionName.startsWith('(') ? '' : '(native)';
    if (!frame.url.startsWith('file://')) return `${frame.url}:${frame.lineNumber + 1}`;
    const file = fileURLToPath(frame.url);
    const map = this.mapFor(file);
    const entry = map?.findEntry(frame.lineNumber, frame.columnNumber);
    if (entry !== undefined && 'originalSource' in entry) {
      const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : entry.originalSource;
      return `${relative(this.root, source)}:${entry.originalLine + 1}`;
    }
    return `${relative(this.root, file)}:${frame.lineNumber + 1}`;
  }

  private mapFor(file: string): SourceMap | null {
    let map = this.maps.get(file);
    if (map === undefined) {
      map = null;
      const mapFile = `${file}.map`;
      if (existsSync(mapFile)) {
        try {
          const payload = JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload;
          // Relative `sources` are resolved against the map's own location.
          payload.sources = payload.sources.map((s) => new URL(s, `file://${mapFile}`).href);
          map = new SourceMap(payload);
        } catch {
          map = null;
        }
      }
      this.maps.set(file, map);
    }
    return map;
  }
}

/** Self time per function+location, highest first. `root` makes file locations relative. */
export function selfTimes(profile: CpuProfile, root: string): SelfTimeReport {
  const locator = new Locator(root);
  const bySite = new Map<string, { functionName: string; location: string; samples: number }>();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const functionName = node.callFrame.functionName || '(anonymous)';
    if (functionName === '(idle)') idle += hits;
    const location = locator.locate(node.callFrame);
    const key = `${functionName}\u0000${location}`;
    const site = bySite.get(key) ?? { functionName, location, samples: 0 };
    site.samples += hits;
    bySite.set(key, site);
  }
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  const msPerSample = total === 0 ? 0 : durationMs / total;
  const entries = [...bySite.values()]
    .sort((a, b) => b.samples - a.samples)
    .map((s) => ({ ...s, ms: s.samples * msPerSample, percent: total === 0 ? 0 : (100 * s.samples) / total }));
  return { totalSamples: total, busySamples: total - idle, durationMs, entries };
}

/** Entries of JavaScript functions: neither native calls nor VM pseudo-entries like '(program)'. */
export const isJavaScript = (e: SelfTimeEntry): boolean => e.location !== '' && e.location !== '(native)';

/** The top `n` entries (optionally filtered) as a markdown table (% of all samples and % of non-idle samples). */
export function selfTimeTable(report: SelfTimeReport, n: number, filter: (e: SelfTimeEntry) => boolean = () => true): string {
  const lines = ['| # | self ms | % all | % busy | function | location |', '| ---: | ---: | ---: | ---: | --- | --- |'];
  report.entries.filter(filter).slice(0, n).forEach((e, i) => {
    const busy = e.functionName === '(idle)' || report.busySamples === 0 ? '–' : ((100 * e.samples) / report.busySamples).toFixed(1);
    lines.push(`| ${i + 1} | ${e.ms.toFixed(0)} | ${e.percent.toFixed(1)} | ${busy} | \`${e.functionName}\` | ${e.location} |`);
  });
  return lines.join('\n');
}
