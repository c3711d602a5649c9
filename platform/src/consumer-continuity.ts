// Offset continuity for a consumer that must account for every record of a partition (the
// audit trail). Kafka offsets are dense, but a consumer does not see all of them: kafkajs
// drops transaction markers (control records) and the records of aborted transactions before
// a batch reaches the handler, and a whole fetch of nothing else never reaches it at all. An
// offset is explained when it was delivered, or when Kafka showed it to this process as one of
// those filtered records. Anything else between the stored position and a delivered record
// was never seen: deleted by `deleteRecords`, expired by retention, or skipped by a seek.
//
// Pure bookkeeping, no I/O: the consumer feeds it what each fetch held and asks it, inside
// the transaction that moves the position, which offsets no one can account for.

/** Offsets [fromOffset, toOffset] of one partition that the consumer never saw. */
export interface OffsetGap {
  topic: string;
  partition: number;
  fromOffset: number;
  toOffset: number;
}

type Range = readonly [from: number, to: number];

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * The offsets in [from, to] covered neither by `delivered` nor by `explained`, as ranges.
 * `delivered` ascending; `explained` any order.
 */
export function unexplainedRanges(
  from: number,
  to: number,
  delivered: readonly number[],
  explained: readonly Range[],
): Range[] {
  const covered: Range[] = [...explained, ...delivered.map((o): Range => [o, o])]
    .filter(([a, b]) => b >= from && a <= to)
    .sort((x, y) => x[0] - y[0]);
  const gaps: Range[] = [];
  let next = from;
  for (const [a, b] of covered) {
    if (a > next) gaps.push([next, Math.min(a - 1, to)]);
    next = Math.max(next, b + 1);
    if (next > to) break;
  }
  if (next <= to) gaps.push([next, to]);
  return gaps;
}

/**
 * Reading a partition again from its stored position, once per position: a fetch may start past
 * the position for harmless reasons (kafkajs moves on past trailing markers; a group offset ahead
 * of the stored one before the seek lands), and a second read that starts past it again shows
 * that Kafka holds nothing it delivers there.
 */
export class RereadOnce {
  /** Per partition: the stored position the consumer already went back to re-read once. */
  private readonly rereadFrom = new Map<string, number>();

  /** Whether to read the partition again from `position`: true once per position. */
  shouldReread(topic: string, partition: number, position: number): boolean {
    const k = key(topic, partition);
    if (this.rereadFrom.get(k) === position) return false;
    this.rereadFrom.set(k, position);
    return true;
  }

  /** The position moved to `position`: forget a re-read behind it. */
  advanced(topic: string, partition: number, position: number): void {
    const k = key(topic, partition);
    const reread = this.rereadFrom.get(k);
    if (reread !== undefined && reread < position) this.rereadFrom.delete(k);
  }
}

export class OffsetContinuity {
  /** Per partition: offsets Kafka showed as markers or aborted records, not yet behind the position. */
  private readonly filtered = new Map<string, Range[]>();
  private readonly rereads = new RereadOnce();

  /**
   * A fetch held the log's offsets [first, last] (a fetch is a contiguous slice of the log;
   * only compaction leaves holes in it, and compaction is Kafka's own explanation) and
   * delivered `delivered` (ascending): the rest were markers or aborted records.
   */
  noteFetch(
    topic: string,
    partition: number,
    first: number,
    last: number,
    delivered: readonly number[],
  ): void {
    const filtered = unexplainedRanges(first, last, delivered, []);
    if (filtered.length === 0) return;
    const k = key(topic, partition);
    this.filtered.set(k, [...(this.filtered.get(k) ?? []), ...filtered]);
  }

  /** What nobody accounts for between the stored position and the last delivered offset. */
  gaps(
    topic: string,
    partition: number,
    position: number,
    delivered: readonly number[],
  ): OffsetGap[] {
    const last = delivered[delivered.length - 1];
    if (last === undefined || last < position) return [];
    const explained = this.filtered.get(key(topic, partition)) ?? [];
    return unexplainedRanges(position, last, delivered, explained).map(([from, to]) => ({
      topic,
      partition,
      fromOffset: from,
      toOffset: to,
    }));
  }

  /** Whether to read the partition again from `position` before declaring a gap (RereadOnce). */
  shouldReread(topic: string, partition: number, position: number): boolean {
    return this.rereads.shouldReread(topic, partition, position);
  }

  /** The position moved to `position`: forget what lies behind it. */
  advanced(topic: string, partition: number, position: number): void {
    const k = key(topic, partition);
    const ranges = this.filtered.get(k);
    if (ranges !== undefined) {
      const ahead = ranges.filter(([, to]) => to >= position);
      if (ahead.length > 0) this.filtered.set(k, ahead);
      else this.filtered.delete(k);
    }
    this.rereads.advanced(topic, partition, position);
  }
}
