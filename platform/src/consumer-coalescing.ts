// Group commit across partitions. kafkajs hands the batches of one fetch to its workers at
// once (one per partition) and fetches again only when all are done; applied separately, each
// is a PostgreSQL transaction of its own (a commit, a WAL flush, the position statements, the
// service's per-batch statements), and at a few records per partition that fixed cost is most
// of the work. The coalescer holds each batch until every batch of the round has arrived and
// hands them over together, to be applied in one transaction. A group that fails is applied
// again batch by batch (the caller's own recovery), so a poison message is isolated as before.

/** What became of a batch given to the coalescer. */
export type CoalescedOutcome =
  /** Applied (or found applied before) in a group transaction that committed. */
  | 'applied'
  /** Not applied: apply it on its own (a group of one, or the group failed). */
  | 'alone';

interface Waiting<M> {
  member: M;
  settle(outcome: CoalescedOutcome): void;
}

/**
 * Gathers batches into groups. `arrive()` announces a batch that is on its way (a kafkajs
 * worker entered the batch handler); `submit()` hands it over, or `leave()` says it will not
 * come. A group is cut once no announced batch is still on its way, after the current turn of
 * the event loop (so batches dispatched together meet), at most `sizeOf`-weight `sizeMax`.
 */
export class PartitionCoalescer<M> {
  private onTheWay = 0;
  private waiting: Waiting<M>[] = [];
  private scheduled = false;

  constructor(
    /** Applies the members together; returns those applied (the others try alone). */
    private readonly applyGroup: (members: readonly M[]) => Promise<ReadonlySet<M>>,
    private readonly sizeOf: (member: M) => number,
    private readonly sizeMax: number,
  ) {}

  arrive(): void {
    this.onTheWay += 1;
  }

  leave(): void {
    this.onTheWay = Math.max(0, this.onTheWay - 1);
    this.schedule();
  }

  /** `arrived`: this batch was announced with arrive() and has not submitted before. */
  submit(member: M, arrived: boolean): Promise<CoalescedOutcome> {
    if (arrived) this.onTheWay = Math.max(0, this.onTheWay - 1);
    const outcome = new Promise<CoalescedOutcome>((settle) => {
      this.waiting.push({ member, settle });
    });
    this.schedule();
    return outcome;
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0 || this.onTheWay > 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.onTheWay > 0) return; // the last arrival schedules again
      const group = this.cut();
      this.schedule();
      void this.run(group);
    });
  }

  /** The longest prefix of the waiting batches within sizeMax (at least one). */
  private cut(): Waiting<M>[] {
    let size = 0;
    let count = 0;
    for (const w of this.waiting) {
      const next = size + this.sizeOf(w.member);
      if (count > 0 && next > this.sizeMax) break;
      size = next;
      count += 1;
    }
    return this.waiting.splice(0, count);
  }

  private async run(group: Waiting<M>[]): Promise<void> {
    if (group.length === 1) {
      group[0]!.settle('alone');
      return;
    }
    try {
      const applied = await this.applyGroup(group.map((w) => w.member));
      for (const w of group) w.settle(applied.has(w.member) ? 'applied' : 'alone');
    } catch {
      // The members' own recovery classifies and logs the failure when they try alone.
      for (const w of group) w.settle('alone');
    }
  }
}
