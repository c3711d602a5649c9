// Contract enums reach the services from generated/ (never as hand-written copies, which
// drift). A service that works with part of an enum names what it leaves out, so the rest
// follows the contract: open enums carry a default symbol (OTHER, UNKNOWN) that a reader takes
// for a symbol it does not know, and a domain may exclude it or other symbols explicitly.

/** The symbols of a contract enum, in contract order, without the excluded ones. */
export function symbolsWithout<const Symbol extends string, const Excluded extends Symbol>(
  symbols: readonly Symbol[],
  ...excluded: Excluded[]
): readonly Exclude<Symbol, Excluded>[] {
  for (const symbol of excluded) {
    if (!symbols.includes(symbol)) throw new Error(`${symbol} is not a symbol of this enum`);
  }
  return symbols.filter(
    (symbol): symbol is Exclude<Symbol, Excluded> =>
      !(excluded as readonly string[]).includes(symbol),
  );
}
