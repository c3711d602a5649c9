// ISO 4217 List One ("current currency & funds"), every active alphabetic code with its
// numeric code and minor-unit exponent. Reflects the list after the withdrawal of ANG (2025-03,
// replaced by XCG), ZWL (2024-09, replaced by ZWG), SLL, CUC and BGN (2026-01, euro).
// When ISO publishes an amendment, edit this table and ISO_4217_LIST_REVISION together.
//
// Shared by every service (the processor validates payment currencies, the ledger its postings).

export const ISO_4217_LIST_REVISION = '2026-01';

export interface Iso4217Entry {
  /** Three-digit numeric code, zero-padded, as ISO publishes it. */
  readonly numericCode: string;
  /** Exponent of the minor unit (USD 2, JPY 0, BHD 3); null where ISO says "N.A." (metals, SDR, XTS, XXX). */
  readonly minorUnits: number | null;
  /** ISO flags funds codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI): units of account, not cash. */
  readonly isFund: boolean;
  readonly name: string;
}

export const ISO_4217_CURRENCIES = {
  AED: { numericCode: '784', minorUnits: 2, isFund: false, name: 'UAE Dirham' },
  AFN: { numericCode: '971', minorUnits: 2, isFund: false, name: 'Afghani' },
  ALL: { numericCode: '008', minorUnits: 2, isFund: false, name: 'Lek' },
  AMD: { numericCode: '051', minorUnits: 2, isFund: false, name: 'Armenian Dram' },
  AOA: { numericCode: '973', minorUnits: 2, isFund: false, name: 'Kwanza' },
  ARS: { numericCode: '032', minorUnits: 2, isFund: false, name: 'Argentine Peso' },
  AUD: { numericCode: '036', minorUnits: 2, isFund: false, name: 'Australian Dollar' },
  AWG: { numericCode: '533', minorUnits: 2, isFund: false, name: 'Aruban Florin' },
  AZN: { numericCode: '944', minorUnits: 2, isFund: false, name: 'Azerbaijan Manat' },
  BAM: { numericCode: '977', minorUnits: 2, isFund: false, name: 'Convertible Mark' },
  BBD: { numericCode: '052', minorUnits: 2, isFund: false, name: 'Barbados Dollar' },
  BDT: { numericCode: '050', minorUnits: 2, isFund: false, name: 'Taka' },
  BHD: { numericCode: '048', minorUnits: 3, isFund: false, name: 'Bahraini Dinar' },
  BIF: { numericCode: '108', minorUnits: 0, isFund: false, name: 'Burundi Franc' },
  BMD: { numericCode: '060', minorUnits: 2, isFund: false, name: 'Bermudian Dollar' },
  BND: { numericCode: '096', minorUnits: 2, isFund: false, name: 'Brunei Dollar' },
  BOB: { numericCode: '068', minorUnits: 2, isFund: false, name: 'Boliviano' },
  BOV: { numericCode: '984', minorUnits: 2, isFund: true, name: 'Mvdol' },
  BRL: { numericCode: '986', minorUnits: 2, isFund: false, name: 'Brazilian Real' },
  BSD: { numericCode: '044', minorUnits: 2, isFund: false, name: 'Bahamian Dollar' },
  BTN: { numericCode: '064', minorUnits: 2, isFund: false, name: 'Ngultrum' },
  BWP: { numericCode: '072', minorUnits: 2, isFund: false, name: 'Pula' },
  BYN: { numericCode: '933', minorUnits: 2, isFund: false, name: 'Belarusian Ruble' },
  BZD: { numericCode: '084', minorUnits: 2, isFund: false, name: 'Belize Dollar' },
  CAD: { numericCode: '124', minorUnits: 2, isFund: false, name: 'Canadian Dollar' },
  CDF: { numericCode: '976', minorUnits: 2, isFund: false, name: 'Congolese Franc' },
  CHE: { numericCode: '947', minorUnits: 2, isFund: true, name: 'WIR Euro' },
  CHF: { numericCode: '756', minorUnits: 2, isFund: false, name: 'Swiss Franc' },
  CHW: { numericCode: '948', minorUnits: 2, isFund: true, name: 'WIR Franc' },
  CLF: { numericCode: '990', minorUnits: 4, isFund: true, name: 'Unidad de Fomento' },
  CLP: { numericCode: '152', minorUnits: 0, isFund: false, name: 'Chilean Peso' },
  CNY: { numericCode: '156', minorUnits: 2, isFund: false, name: 'Yuan Renminbi' },
  COP: { numericCode: '170', minorUnits: 2, isFund: false, name: 'Colombian Peso' },
  COU: { numericCode: '970', minorUnits: 2, isFund: true, name: 'Unidad de Valor Real' },
  CRC: { numericCode: '188', minorUnits: 2, isFund: false, name: 'Costa Rican Colon' },
  CUP: { numericCode: '192', minorUnits: 2, isFund: false, name: 'Cuban Peso' },
  CVE: { numericCode: '132', minorUnits: 2, isFund: false, name: 'Cabo Verde Escudo' },
  CZK: { numericCode: '203', minorUnits: 2, isFund: false, name: 'Czech Koruna' },
  DJF: { numericCode: '262', minorUnits: 0, isFund: false, name: 'Djibouti Franc' },
  DKK: { numericCode: '208', minorUnits: 2, isFund: false, name: 'Danish Krone' },
  DOP: { numericCode: '214', minorUnits: 2, isFund: false, name: 'Dominican Peso' },
  DZD: { numericCode: '012', minorUnits: 2, isFund: false, name: 'Algerian Dinar' },
  EGP: { numericCode: '818', minorUnits: 2, isFund: false, name: 'Egyptian Pound' },
  ERN: { numericCode: '232', minorUnits: 2, isFund: false, name: 'Nakfa' },
  ETB: { numericCode: '230', minorUnits: 2, isFund: false, name: 'Ethiopian Birr' },
  EUR: { numericCode: '978', minorUnits: 2, isFund: false, name: 'Euro' },
  FJD: { numericCode: '242', minorUnits: 2, isFund: false, name: 'Fiji Dollar' },
  FKP: { numericCode: '238', minorUnits: 2, isFund: false, name: 'Falkland Islands Pound' },
  GBP: { numericCode: '826', minorUnits: 2, isFund: false, name: 'Pound Sterling' },
  GEL: { numericCode: '981', minorUnits: 2, isFund: false, name: 'Lari' },
  GHS: { numericCode: '936', minorUnits: 2, isFund: false, name: 'Ghana Cedi' },
  GIP: { numericCode: '292', minorUnits: 2, isFund: false, name: 'Gibraltar Pound' },
  GMD: { numericCode: '270', minorUnits: 2, isFund: false, name: 'Dalasi' },
  GNF: { numericCode: '324', minorUnits: 0, isFund: false, name: 'Guinean Franc' },
  GTQ: { numericCode: '320', minorUnits: 2, isFund: false, name: 'Quetzal' },
  GYD: { numericCode: '328', minorUnits: 2, isFund: false, name: 'Guyana Dollar' },
  HKD: { numericCode: '344', minorUnits: 2, isFund: false, name: 'Hong Kong Dollar' },
  HNL: { numericCode: '340', minorUnits: 2, isFund: false, name: 'Lempira' },
  HTG: { numericCode: '332', minorUnits: 2, isFund: false, name: 'Gourde' },
  HUF: { numericCode: '348', minorUnits: 2, isFund: false, name: 'Forint' },
  IDR: { numericCode: '360', minorUnits: 2, isFund: false, name: 'Rupiah' },
  ILS: { numericCode: '376', minorUnits: 2, isFund: false, name: 'New Israeli Sheqel' },
  INR: { numericCode: '356', minorUnits: 2, isFund: false, name: 'Indian Rupee' },
  IQD: { numericCode: '368', minorUnits: 3, isFund: false, name: 'Iraqi Dinar' },
  IRR: { numericCode: '364', minorUnits: 2, isFund: false, name: 'Iranian Rial' },
  ISK: { numericCode: '352', minorUnits: 0, isFund: false, name: 'Iceland Krona' },
  JMD: { numericCode: '388', minorUnits: 2, isFund: false, name: 'Jamaican Dollar' },
  JOD: { numericCode: '400', minorUnits: 3, isFund: false, name: 'Jordanian Dinar' },
  JPY: { numericCode: '392', minorUnits: 0, isFund: false, name: 'Yen' },
  KES: { numericCode: '404', minorUnits: 2, isFund: false, name: 'Kenyan Shilling' },
  KGS: { numericCode: '417', minorUnits: 2, isFund: false, name: 'Som' },
  KHR: { numericCode: '116', minorUnits: 2, isFund: false, name: 'Riel' },
  KMF: { numericCode: '174', minorUnits: 0, isFund: false, name: 'Comorian Franc' },
  KPW: { numericCode: '408', minorUnits: 2, isFund: false, name: 'North Korean Won' },
  KRW: { numericCode: '410', minorUnits: 0, isFund: false, name: 'Won' },
  KWD: { numericCode: '414', minorUnits: 3, isFund: false, name: 'Kuwaiti Dinar' },
  KYD: { numericCode: '136', minorUnits: 2, isFund: false, name: 'Cayman Islands Dollar' },
  KZT: { numericCode: '398', minorUnits: 2, isFund: false, name: 'Tenge' },
  LAK: { numericCode: '418', minorUnits: 2, isFund: false, name: 'Lao Kip' },
  LBP: { numericCode: '422', minorUnits: 2, isFund: false, name: 'Lebanese Pound' },
  LKR: { numericCode: '144', minorUnits: 2, isFund: false, name: 'Sri Lanka Rupee' },
  LRD: { numericCode: '430', minorUnits: 2, isFund: false, name: 'Liberian Dollar' },
  LSL: { numericCode: '426', minorUnits: 2, isFund: false, name: 'Loti' },
  LYD: { numericCode: '434', minorUnits: 3, isFund: false, name: 'Libyan Dinar' },
  MAD: { numericCode: '504', minorUnits: 2, isFund: false, name: 'Moroccan Dirham' },
  MDL: { numericCode: '498', minorUnits: 2, isFund: false, name: 'Moldovan Leu' },
  MGA: { numericCode: '969', minorUnits: 2, isFund: false, name: 'Malagasy Ariary' },
  MKD: { numericCode: '807', minorUnits: 2, isFund: false, name: 'Denar' },
  MMK: { numericCode: '104', minorUnits: 2, isFund: false, name: 'Kyat' },
  MNT: { numericCode: '496', minorUnits: 2, isFund: false, name: 'Tugrik' },
  MOP: { numericCode: '446', minorUnits: 2, isFund: false, name: 'Pataca' },
  MRU: { numericCode: '929', minorUnits: 2, isFund: false, name: 'Ouguiya' },
  MUR: { numericCode: '480', minorUnits: 2, isFund: false, name: 'Mauritius Rupee' },
  MVR: { numericCode: '462', minorUnits: 2, isFund: false, name: 'Rufiyaa' },
  MWK: { numericCode: '454', minorUnits: 2, isFund: false, name: 'Malawi Kwacha' },
  MXN: { numericCode: '484', minorUnits: 2, isFund: false, name: 'Mexican Peso' },
  MXV: {
    numericCode: '979',
    minorUnits: 2,
    isFund: true,
    name: 'Mexican Unidad de Inversion (UDI)',
  },
  MYR: { numericCode: '458', minorUnits: 2, isFund: false, name: 'Malaysian Ringgit' },
  MZN: { numericCode: '943', minorUnits: 2, isFund: false, name: 'Mozambique Metical' },
  NAD: { numericCode: '516', minorUnits: 2, isFund: false, name: 'Namibia Dollar' },
  NGN: { numericCode: '566', minorUnits: 2, isFund: false, name: 'Naira' },
  NIO: { numericCode: '558', minorUnits: 2, isFund: false, name: 'Cordoba Oro' },
  NOK: { numericCode: '578', minorUnits: 2, isFund: false, name: 'Norwegian Krone' },
  NPR: { numericCode: '524', minorUnits: 2, isFund: false, name: 'Nepalese Rupee' },
  NZD: { numericCode: '554', minorUnits: 2, isFund: false, name: 'New Zealand Dollar' },
  OMR: { numericCode: '512', minorUnits: 3, isFund: false, name: 'Rial Omani' },
  PAB: { numericCode: '590', minorUnits: 2, isFund: false, name: 'Balboa' },
  PEN: { numericCode: '604', minorUnits: 2, isFund: false, name: 'Sol' },
  PGK: { numericCode: '598', minorUnits: 2, isFund: false, name: 'Kina' },
  PHP: { numericCode: '608', minorUnits: 2, isFund: false, name: 'Philippine Peso' },
  PKR: { numericCode: '586', minorUnits: 2, isFund: false, name: 'Pakistan Rupee' },
  PLN: { numericCode: '985', minorUnits: 2, isFund: false, name: 'Zloty' },
  PYG: { numericCode: '600', minorUnits: 0, isFund: false, name: 'Guarani' },
  QAR: { numericCode: '634', minorUnits: 2, isFund: false, name: 'Qatari Rial' },
  RON: { numericCode: '946', minorUnits: 2, isFund: false, name: 'Romanian Leu' },
  RSD: { numericCode: '941', minorUnits: 2, isFund: false, name: 'Serbian Dinar' },
  RUB: { numericCode: '643', minorUnits: 2, isFund: false, name: 'Russian Ruble' },
  RWF: { numericCode: '646', minorUnits: 0, isFund: false, name: 'Rwanda Franc' },
  SAR: { numericCode: '682', minorUnits: 2, isFund: false, name: 'Saudi Riyal' },
  SBD: { numericCode: '090', minorUnits: 2, isFund: false, name: 'Solomon Islands Dollar' },
  SCR: { numericCode: '690', minorUnits: 2, isFund: false, name: 'Seychelles Rupee' },
  SDG: { numericCode: '938', minorUnits: 2, isFund: false, name: 'Sudanese Pound' },
  SEK: { numericCode: '752', minorUnits: 2, isFund: false, name: 'Swedish Krona' },
  SGD: { numericCode: '702', minorUnits: 2, isFund: false, name: 'Singapore Dollar' },
  SHP: { numericCode: '654', minorUnits: 2, isFund: false, name: 'Saint Helena Pound' },
  SLE: { numericCode: '925', minorUnits: 2, isFund: false, name: 'Leone' },
  SOS: { numericCode: '706', minorUnits: 2, isFund: false, name: 'Somali Shilling' },
  SRD: { numericCode: '968', minorUnits: 2, isFund: false, name: 'Surinam Dollar' },
  SSP: { numericCode: '728', minorUnits: 2, isFund: false, name: 'South Sudanese Pound' },
  STN: { numericCode: '930', minorUnits: 2, isFund: false, name: 'Dobra' },
  SVC: { numericCode: '222', minorUnits: 2, isFund: false, name: 'El Salvador Colon' },
  SYP: { numericCode: '760', minorUnits: 2, isFund: false, name: 'Syrian Pound' },
  SZL: { numericCode: '748', minorUnits: 2, isFund: false, name: 'Lilangeni' },
  THB: { numericCode: '764', minorUnits: 2, isFund: false, name: 'Baht' },
  TJS: { numericCode: '972', minorUnits: 2, isFund: false, name: 'Somoni' },
  TMT: { numericCode: '934', minorUnits: 2, isFund: false, name: 'Turkmenistan New Manat' },
  TND: { numericCode: '788', minorUnits: 3, isFund: false, name: 'Tunisian Dinar' },
  TOP: { numericCode: '776', minorUnits: 2, isFund: false, name: 'Pa’anga' },
  TRY: { numericCode: '949', minorUnits: 2, isFund: false, name: 'Turkish Lira' },
  TTD: { numericCode: '780', minorUnits: 2, isFund: false, name: 'Trinidad and Tobago Dollar' },
  TWD: { numericCode: '901', minorUnits: 2, isFund: false, name: 'New Taiwan Dollar' },
  TZS: { numericCode: '834', minorUnits: 2, isFund: false, name: 'Tanzanian Shilling' },
  UAH: { numericCode: '980', minorUnits: 2, isFund: false, name: 'Hryvnia' },
  UGX: { numericCode: '800', minorUnits: 0, isFund: false, name: 'Uganda Shilling' },
  USD: { numericCode: '840', minorUnits: 2, isFund: false, name: 'US Dollar' },
  USN: { numericCode: '997', minorUnits: 2, isFund: true, name: 'US Dollar (Next day)' },
  UYI: {
    numericCode: '940',
    minorUnits: 0,
    isFund: true,
    name: 'Uruguay Peso en Unidades Indexadas (UI)',
  },
  UYU: { numericCode: '858', minorUnits: 2, isFund: false, name: 'Peso Uruguayo' },
  UYW: { numericCode: '927', minorUnits: 4, isFund: false, name: 'Unidad Previsional' },
  UZS: { numericCode: '860', minorUnits: 2, isFund: false, name: 'Uzbekistan Sum' },
  VED: { numericCode: '926', minorUnits: 2, isFund: false, name: 'Bolívar Soberano' },
  VES: { numericCode: '928', minorUnits: 2, isFund: false, name: 'Bolívar Soberano' },
  VND: { numericCode: '704', minorUnits: 0, isFund: false, name: 'Dong' },
  VUV: { numericCode: '548', minorUnits: 0, isFund: false, name: 'Vatu' },
  WST: { numericCode: '882', minorUnits: 2, isFund: false, name: 'Tala' },
  XAD: { numericCode: '396', minorUnits: 2, isFund: false, name: 'Arab Accounting Dinar' },
  XAF: { numericCode: '950', minorUnits: 0, isFund: false, name: 'CFA Franc BEAC' },
  XAG: { numericCode: '961', minorUnits: null, isFund: false, name: 'Silver' },
  XAU: { numericCode: '959', minorUnits: null, isFund: false, name: 'Gold' },
  XBA: {
    numericCode: '955',
    minorUnits: null,
    isFund: false,
    name: 'Bond Markets Unit European Composite Unit (EURCO)',
  },
  XBB: {
    numericCode: '956',
    minorUnits: null,
    isFund: false,
    name: 'Bond Markets Unit European Monetary Unit (E.M.U.-6)',
  },
  XBC: {
    numericCode: '957',
    minorUnits: null,
    isFund: false,
    name: 'Bond Markets Unit European Unit of Account 9 (E.U.A.-9)',
  },
  XBD: {
    numericCode: '958',
    minorUnits: null,
    isFund: false,
    name: 'Bond Markets Unit European Unit of Account 17 (E.U.A.-17)',
  },
  XCD: { numericCode: '951', minorUnits: 2, isFund: false, name: 'East Caribbean Dollar' },
  XCG: { numericCode: '532', minorUnits: 2, isFund: false, name: 'Caribbean Guilder' },
  XDR: { numericCode: '960', minorUnits: null, isFund: false, name: 'SDR (Special Drawing Right)' },
  XOF: { numericCode: '952', minorUnits: 0, isFund: false, name: 'CFA Franc BCEAO' },
  XPD: { numericCode: '964', minorUnits: null, isFund: false, name: 'Palladium' },
  XPF: { numericCode: '953', minorUnits: 0, isFund: false, name: 'CFP Franc' },
  XPT: { numericCode: '962', minorUnits: null, isFund: false, name: 'Platinum' },
  XSU: { numericCode: '994', minorUnits: null, isFund: false, name: 'Sucre' },
  XTS: {
    numericCode: '963',
    minorUnits: null,
    isFund: false,
    name: 'Codes specifically reserved for testing purposes',
  },
  XUA: { numericCode: '965', minorUnits: null, isFund: false, name: 'ADB Unit of Account' },
  XXX: {
    numericCode: '999',
    minorUnits: null,
    isFund: false,
    name: 'The codes assigned for transactions where no currency is involved',
  },
  YER: { numericCode: '886', minorUnits: 2, isFund: false, name: 'Yemeni Rial' },
  ZAR: { numericCode: '710', minorUnits: 2, isFund: false, name: 'Rand' },
  ZMW: { numericCode: '967', minorUnits: 2, isFund: false, name: 'Zambian Kwacha' },
  ZWG: { numericCode: '924', minorUnits: 2, isFund: false, name: 'Zimbabwe Gold' },
} as const satisfies Readonly<Record<string, Iso4217Entry>>;

type Iso4217Table = typeof ISO_4217_CURRENCIES;

/** Every active ISO 4217 alphabetic code, including those without minor units (XAU, XDR, XXX...). */
export type Iso4217Code = keyof Iso4217Table;

/**
 * A code money can be held in: an active ISO 4217 code with a defined minor unit. Codes whose
 * minor unit is "N.A." (precious metals, bond-market units, SDR, XTS, XXX) cannot be expressed as
 * integer minor units, so the ledger refuses them.
 */
export type CurrencyCode = {
  [K in Iso4217Code]: Iso4217Table[K]['minorUnits'] extends number ? K : never;
}[Iso4217Code];

const CURRENCY_CODES: ReadonlySet<string> = new Set(
  Object.entries(ISO_4217_CURRENCIES)
    .filter(([, entry]) => entry.minorUnits !== null)
    .map(([code]) => code),
);

/** All monetary codes, sorted. */
export const CURRENCY_CODE_LIST: readonly CurrencyCode[] = [
  ...CURRENCY_CODES,
].sort() as CurrencyCode[];

export function isIso4217Code(x: unknown): x is Iso4217Code {
  return typeof x === 'string' && Object.hasOwn(ISO_4217_CURRENCIES, x);
}

/** True for an active ISO 4217 code with numeric minor units. Case-sensitive: 'eur' is not a code. */
export function isCurrencyCode(x: unknown): x is CurrencyCode {
  return typeof x === 'string' && CURRENCY_CODES.has(x);
}

export class UnknownCurrencyError extends RangeError {
  constructor(readonly value: unknown) {
    super(`not an ISO 4217 currency with minor units: ${JSON.stringify(value) ?? String(value)}`);
    this.name = 'UnknownCurrencyError';
  }
}

/** Narrows an untrusted string (request body, Avro field) to a CurrencyCode or throws. */
export function parseCurrencyCode(x: unknown): CurrencyCode {
  if (!isCurrencyCode(x)) throw new UnknownCurrencyError(x);
  return x;
}

/** Minor-unit exponent: 10 ** minorUnitsOf(c) minor units make one major unit. */
export function minorUnitsOf(currency: CurrencyCode): number {
  const minorUnits = ISO_4217_CURRENCIES[currency].minorUnits;
  // The CurrencyCode type already excludes null; this guards casts from outside.
  if (minorUnits === null) throw new UnknownCurrencyError(currency);
  return minorUnits;
}
