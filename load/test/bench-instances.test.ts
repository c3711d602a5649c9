// BENCH_INSTANCES: which services run how many processes, how their CPU roles are named, and
// how CPU per payment adds up per service and for the platform without counting a process twice.
import {
  coresByService,
  cpuSecondsPer1000,
  instanceSettings,
  layoutKey,
  layoutLabel,
  parseInstances,
  roleSecondsPerUnit,
  serviceRoles,
} from '../src/bench-instances.js';

describe('BENCH_INSTANCES', () => {
  test('unset or empty: one process per service', () => {
    expect(parseInstances(undefined)).toEqual({ ledger: 1, processor: 1 });
    expect(parseInstances(' ')).toEqual({ ledger: 1, processor: 1 });
  });

  test('names the services it changes; the others run once', () => {
    expect(parseInstances('processor:2,ledger:2')).toEqual({ ledger: 2, processor: 2 });
    expect(parseInstances(' processor : 3 ')).toEqual({ ledger: 1, processor: 3 });
  });

  test.each([
    ['processor', /is not <service>:<count>/],
    ['processor:two', /is not <service>:<count>/],
    ['audit:2', /runs ledger and processor, not "audit"/],
    ['processor:0', /not a count in 1\.\.64/],
    ['processor:65', /not a count in 1\.\.64/],
    ['processor:2,processor:3', /processor is named twice/],
  ])('refuses %s', (text, message) => {
    expect(() => parseInstances(text)).toThrow(message);
  });

  test('labels, keys and the settings a spawned service gets', () => {
    const layout = parseInstances('processor:2');
    expect(layoutLabel(layout)).toBe('ledger ×1, processor ×2');
    expect(layoutKey(layout)).toBe('ledger-1.processor-2');
    expect(instanceSettings('processor', 2)).toEqual({ PROCESSOR_INSTANCES: '2' });
    // Explicit even for one, so an inherited LEDGERLINE_INSTANCES cannot change the layout.
    expect(instanceSettings('ledger', 1)).toEqual({ LEDGER_INSTANCES: '1' });
  });
});

describe('CPU roles and CPU per payment', () => {
  test('one instance is the spawned process; several are a supervisor and numbered instances', () => {
    expect(serviceRoles('ledger', 100, [])).toEqual({ ledger: 100 });
    expect(serviceRoles('processor', 200, [230, 210])).toEqual({
      'processor/supervisor': 200,
      'processor/1': 210,
      'processor/2': 230,
    });
  });

  test('each process, each service as the sum of its processes, the platform without the generator', () => {
    const before = {
      'processor/supervisor': 1,
      'processor/1': 10,
      'processor/2': 20,
      ledger: 5,
      postgres: 100,
      generator: 50,
    };
    const after = {
      'processor/supervisor': 1.1,
      'processor/1': 11,
      'processor/2': 21.5,
      ledger: 6,
      postgres: 102,
      generator: 53,
    };
    const per1000 = cpuSecondsPer1000(before, after, 2_000, 'generator');
    // CPU-seconds per 1,000 payments: used / 2,000 × 1,000.
    expect(per1000['processor/1']).toBeCloseTo(0.5);
    expect(per1000['processor/2']).toBeCloseTo(0.75);
    expect(per1000['processor']).toBeCloseTo(0.05 + 0.5 + 0.75);
    expect(per1000['ledger']).toBeCloseTo(0.5);
    expect(per1000['generator']).toBeCloseTo(1.5);
    // 0.1 + 1 + 1.5 + 1 + 2 CPU-seconds for 2,000 payments, the generator's 3 not among them.
    expect(per1000['total']).toBeCloseTo(2.8);
  });

  test('a process first seen after the baseline counts from its first sample; no payments, no figure', () => {
    const per1000 = cpuSecondsPer1000({ ledger: 1 }, { ledger: 2, 'ledger/3': 7 }, 1_000, 'g');
    expect(per1000['ledger/3']).toBe(0);
    expect(cpuSecondsPer1000({ ledger: 1 }, { ledger: 2 }, 0, 'g')).toEqual({
      ledger: 0,
      total: 0,
    });
  });

  test('seconds per unit of any kind: seconds waited per second of a 10 s window', () => {
    const perS = roleSecondsPerUnit(
      { 'ledger/1': 2, 'ledger/2': 1, postgres: 0, generator: 4 },
      { 'ledger/1': 7, 'ledger/2': 4, postgres: 6, generator: 9 },
      10,
      'generator',
    );
    expect(perS).toEqual({
      'ledger/1': 0.5,
      'ledger/2': 0.3,
      ledger: 0.8,
      postgres: 0.6,
      generator: 0.5,
      total: expect.closeTo(1.4) as number,
    });
  });

  test('cores busy add up per service for the chart', () => {
    expect(
      coresByService({ 'ledger/supervisor': 0.01, 'ledger/1': 0.4, 'ledger/2': 0.3, kafka: 0.1 }),
    ).toEqual({ ledger: expect.closeTo(0.71) as number, kafka: 0.1 });
  });
});
