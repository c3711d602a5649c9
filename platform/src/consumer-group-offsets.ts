// A consumer's positions copied to its Kafka group now and then, for the tools that read lag
// from there (`kafka-consumer-groups --describe`, exporters). Only a copy: the positions live in
// PostgreSQL, moved in the transaction that applies the records, and the consumer never starts
// from a group offset (it seeks every partition to its stored position, or to the partition's
// first record when it has none, and reads again from the position a fetch that starts past
// it). So a copy that lags, fails or is overwritten by someone else changes nothing applied.

export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

/** How often the positions moved since the last copy go to Kafka. */
export const GROUP_OFFSET_COPY_MS = 5_000;

const keyOf = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class GroupOffsetCopies {
  /** Positions moved since the last copy, by partition: the newest only. */
  private readonly moved = new Map<string, { topic: string; partition: number; next: number }>();
  private assigned = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private copying: Promise<void> | undefined;

  constructor(
    private readonly commit: (offsets: PartitionOffset[]) => Promise<void>,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = GROUP_OFFSET_COPY_MS,
  ) {}

  /** The group gave this member these partitions: only theirs are copied (Kafka refuses others). */
  assign(assignment: Record<string, number[]>): void {
    this.assigned = new Set(
      Object.entries(assignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => keyOf(topic, partition)),
      ),
    );
  }

  /** A transaction moved the partition's stored position to `next`. */
  positionMoved(topic: string, partition: number, next: number): void {
    const key = keyOf(topic, partition);
    const known = this.moved.get(key);
    if (known === undefined || known.next < next) this.moved.set(key, { topic, partition, next });
  }

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.copyNow(), this.intervalMs);
    this.timer.unref();
  }

  /** No copy after this; one under way ends with the consumer (kafkajs drops it then). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Copies what moved to Kafka; what fails is copied next time unless it moved on meanwhile. */
  copyNow(): Promise<void> {
    if (this.copying) return this.copying;
    const due = [...this.moved.entries()].filter(([key]) => this.assigned.has(key));
    if (due.length === 0) return Promise.resolve();
    for (const [key] of due) this.moved.delete(key);
    this.copying = this.commit(
      due.map(([, m]) => ({ topic: m.topic, partition: m.partition, offset: String(m.next) })),
    )
      .catch((error: unknown) => {
        for (const [, m] of due) this.positionMoved(m.topic, m.partition, m.next);
        this.onError(error);
      })
      .finally(() => {
        this.copying = undefined;
      });
    return this.copying;
  }
}
