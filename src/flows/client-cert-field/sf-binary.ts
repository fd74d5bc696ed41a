// The part of Structured Field Values (RFC 8941, now RFC 9651) that RFC 9440 needs: a Byte Sequence as an
// Item (Client-Cert) and a List of Byte Sequences (Client-Cert-Chain). Parsing follows the RFC 9651
// section 4.2 algorithms; any other item type where a Byte Sequence belongs is refused, while parameters
// are checked for syntax and then dropped (RFC 9440 defines none; see spec-notes/rfc9440.md).
import { FieldTooLarge, MalformedField } from '../../errors.js';

export interface SfBinaryParseOptions {
  /** The field's name, for error messages. Default "field". */
  fieldName?: string;
  /** Most characters in the field value (all its lines combined). Default 16384. */
  maxLength?: number;
  /** Most members of a List. Default 16. */
  maxMembers?: number;
}

export const DEFAULT_MAX_FIELD_LENGTH = 16384;
export const DEFAULT_MAX_LIST_MEMBERS = 16;

/** `:base64:`, the serialization of a Byte Sequence (RFC 9651 section 4.1.8). */
export function serializeBinaryItem(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  return `:${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}:`;
}

/**
 * A List of Byte Sequences (RFC 9651 section 4.1.1). An empty list serializes to the empty string, which
 * a sender must not send as a field (section 4.1).
 */
export function serializeBinaryList(items: readonly Uint8Array[]): string {
  if (!Array.isArray(items)) throw new TypeError('items must be an array of Uint8Array');
  return items.map(serializeBinaryItem).join(', ');
}

/**
 * Parses a field that must be one Byte Sequence. Several field lines are refused outright: the only field
 * this serves (Client-Cert) is a singleton (RFC 9440 section 2.2).
 */
export function parseBinaryItem(lines: string | readonly string[], options: SfBinaryParseOptions = {}): Uint8Array {
  const name = options.fieldName ?? 'field';
  if (typeof lines !== 'string' && lines.length !== 1) {
    throw new MalformedField(name, `must be one field line, not ${lines.length}`);
  }
  const parser = new Parser(name, combine(lines, name, options.maxLength));
  parser.skipSpaces();
  const bytes = parser.member('the value');
  parser.skipSpaces();
  parser.expectEnd('after the Byte Sequence');
  return bytes;
}

/** Parses a field that must be a List of Byte Sequences; its lines are combined as RFC 9651 section 4.2 says. */
export function parseBinaryList(lines: string | readonly string[], options: SfBinaryParseOptions = {}): Uint8Array[] {
  const name = options.fieldName ?? 'field';
  const maxMembers = options.maxMembers ?? DEFAULT_MAX_LIST_MEMBERS;
  if (!Number.isInteger(maxMembers) || maxMembers < 0) throw new RangeError(`maxMembers must be a non-negative integer, not ${maxMembers}`);
  const parser = new Parser(name, combine(lines, name, options.maxLength));
  const members: Uint8Array[] = [];
  parser.skipSpaces();
  while (!parser.atEnd()) {
    if (members.length === maxMembers) throw new FieldTooLarge(name, `the List has more than ${maxMembers} members`);
    members.push(parser.member(`member ${members.length}`));
    parser.skipOws();
    if (parser.atEnd()) break;
    parser.expect(',', `after member ${members.length - 1}`);
    parser.skipOws();
    if (parser.atEnd()) throw new MalformedField(name, 'the List ends with a comma');
  }
  return members;
}

/** Field lines joined with ", " (RFC 9110 section 5.3), refused when longer than the bound. */
function combine(lines: string | readonly string[], name: string, maxLength = DEFAULT_MAX_FIELD_LENGTH): string {
  if (!Number.isInteger(maxLength) || maxLength < 0) throw new RangeError(`maxLength must be a non-negative integer, not ${maxLength}`);
  const list = typeof lines === 'string' ? [lines] : lines;
  if (!Array.isArray(list) || list.some((l) => typeof l !== 'string')) throw new TypeError('lines must be a string or an array of strings');
  // Count before joining, so an enormous input is refused without building a copy of it.
  const length = list.reduce((n, l) => n + l.length, 0) + 2 * Math.max(0, list.length - 1);
  if (length > maxLength) throw new FieldTooLarge(name, `${length} characters, more than ${maxLength}`);
  return list.join(', ');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const KEY_FIRST = /[a-z*]/;
const KEY_REST = /[a-z0-9_\-.*]/;
const ALPHA = /[A-Za-z]/;
const DIGIT = /[0-9]/;
// tchar (RFC 9110 section 5.6.2) plus ':' and '/', as sf-token allows after the first character.
const TOKEN_REST = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;
const LOWER_HEX = /[0-9a-f]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A cursor over one field value; every method throws MalformedField at the first character that does not fit. */
class Parser {
  private pos = 0;
  constructor(
    private readonly name: string,
    private readonly input: string,
  ) {}

  atEnd(): boolean {
    return this.pos >= this.input.length;
  }

  private peek(): string {
    return this.input.charAt(this.pos);
  }

  private fail(problem: string): never {
    throw new MalformedField(this.name, `${problem} (at character ${this.pos})`);
  }

  skipSpaces(): void {
    while (this.peek() === ' ') this.pos++;
  }

  /** OWS around List commas: spaces and horizontal tabs. */
  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  expect(char: string, where: string): void {
    if (this.peek() !== char) this.fail(`expected '${char}' ${where}, found ${this.describe()}`);
    this.pos++;
  }

  expectEnd(where: string): void {
    if (!this.atEnd()) this.fail(`unexpected ${this.describe()} ${where}`);
  }

  private describe(): string {
    return this.atEnd() ? 'the end' : JSON.stringify(this.peek());
  }

  /** A List member or the Item: a Byte Sequence with optional parameters, which are checked and dropped. */
  member(what: string): Uint8Array {
    const c = this.peek();
    if (c === '(') this.fail(`${what} is an Inner List, not a Byte Sequence`);
    if (c !== ':') this.fail(`${what} is ${this.kindOf(c)}, not a Byte Sequence`);
    const bytes = this.byteSequence();
    this.parameters();
    return bytes;
  }

  private kindOf(c: string): string {
    if (c === '') return 'empty';
    if (c === '-' || DIGIT.test(c)) return 'a number';
    if (c === '"') return 'a String';
    if (c === '*' || ALPHA.test(c)) return 'a Token';
    if (c === '?') return 'a Boolean';
    if (c === '@') return 'a Date';
    if (c === '%') return 'a Display String';
    return `no item (it starts with ${JSON.stringify(c)})`;
  }

  /** RFC 9651 section 4.2.7. */
  private byteSequence(): Uint8Array {
    this.pos++; // ':'
    const end = this.input.indexOf(':', this.pos);
    if (end < 0) this.fail('the Byte Sequence has no closing colon');
    const text = this.input.slice(this.pos, end);
    if (!BASE64.test(text)) {
      const bad = text.search(/[^A-Za-z0-9+/=]/);
      this.pos += bad < 0 ? text.indexOf('=') : bad;
      this.fail(bad < 0 ? "the Byte Sequence has a misplaced '='" : `the Byte Sequence holds ${this.describe()}, which is not base64`);
    }
    // Missing padding and non-zero pad bits are accepted, as the RFC asks of parsers; a length that no
    // base64 text can have is not.
    const padded = text.endsWith('=');
    if ((padded && text.length % 4 !== 0) || (!padded && text.length % 4 === 1)) {
      this.fail(`the Byte Sequence's base64 has an impossible length (${text.length} characters)`);
    }
    this.pos = end + 1;
    return new Uint8Array(Buffer.from(text, 'base64'));
  }

  /** RFC 9651 section 4.2.3.2: `;key[=bare-item]`, repeated. */
  private parameters(): void {
    while (this.peek() === ';') {
      this.pos++;
      this.skipSpaces();
      this.key();
      if (this.peek() === '=') {
        this.pos++;
        this.bareItem();
      }
    }
  }

  private key(): void {
    if (!KEY_FIRST.test(this.peek())) this.fail(`a parameter key cannot start with ${this.describe()}`);
    this.pos++;
    while (KEY_REST.test(this.peek())) this.pos++;
  }

  /** Any bare item, checked for syntax only (a parameter value). */
  private bareItem(): void {
    const c = this.peek();
    if (c === '-' || DIGIT.test(c)) return this.number();
    if (c === '"') return this.string();
    if (c === '*' || ALPHA.test(c)) return this.token();
    if (c === ':') {
      this.byteSequence();
      return;
    }
    if (c === '?') return this.boolean();
    if (c === '@') {
      this.pos++;
      return this.integer('a Date');
    }
    if (c === '%') return this.displayString();
    this.fail(`a parameter value cannot start with ${this.describe()}`);
  }

  private integer(what: string): void {
    const start = this.pos;
    this.number();
    if (this.input.slice(start, this.pos).includes('.')) this.fail(`${what} must be an Integer`);
  }

  /** RFC 9651 section 4.2.4: at most 15 integer digits; a Decimal has at most 12 before the point and 1 to 3 after. */
  private number(): void {
    if (this.peek() === '-') this.pos++;
    if (!DIGIT.test(this.peek())) this.fail(`a number needs a digit, found ${this.describe()}`);
    let intDigits = 0;
    while (DIGIT.test(this.peek())) {
      this.pos++;
      if (++intDigits > 15) this.fail('an Integer has more than 15 digits');
    }
    if (this.peek() !== '.') return;
    if (intDigits > 12) this.fail('a Decimal has more than 12 digits before the point');
    this.pos++;
    let fracDigits = 0;
    while (DIGIT.test(this.peek())) {
      this.pos++;
      if (++fracDigits > 3) this.fail('a Decimal has more than 3 digits after the point');
    }
    if (fracDigits === 0) this.fail('a Decimal ends with its point');
  }

  /** RFC 9651 section 4.2.5: printable ASCII; backslash escapes only '"' and '\'. */
  private string(): void {
    this.pos++;
    for (;;) {
      if (this.atEnd()) this.fail('a String has no closing quote');
      const c = this.input.charCodeAt(this.pos++);
      if (c === 0x22) return;
      if (c === 0x5c) {
        const next = this.peek();
        if (next !== '"' && next !== '\\') this.fail(`a String escapes ${this.describe()}`);
        this.pos++;
      } else if (c < 0x20 || c > 0x7e) {
        this.pos--;
        this.fail('a String holds a character outside printable ASCII');
      }
    }
  }

  private token(): void {
    this.pos++;
    while (TOKEN_REST.test(this.peek())) this.pos++;
  }

  private boolean(): void {
    this.pos++;
    const c = this.peek();
    if (c !== '0' && c !== '1') this.fail(`a Boolean is ?0 or ?1, not ?${c}`);
    this.pos++;
  }

  /** RFC 9651 section 4.2.10: %"..." with lowercase %xx escapes that decode to UTF-8. */
  private displayString(): void {
    this.pos++;
    this.expect('"', 'to open a Display String');
    const bytes: number[] = [];
    for (;;) {
      if (this.atEnd()) this.fail('a Display String has no closing quote');
      const c = this.input.charCodeAt(this.pos++);
      if (c === 0x22) break;
      if (c === 0x25) {
        const hex = this.input.slice(this.pos, this.pos + 2);
        if (hex.length < 2 || !LOWER_HEX.test(hex[0]!) || !LOWER_HEX.test(hex[1]!)) this.fail('a Display String has a bad %-escape');
        bytes.push(parseInt(hex, 16));
        this.pos += 2;
      } else if (c < 0x20 || c > 0x7e) {
        this.pos--;
        this.fail('a Display String holds a character outside printable ASCII');
      } else {
        bytes.push(c);
      }
    }
    try {
      utf8.decode(new Uint8Array(bytes));
    } catch {
      this.fail('a Display String is not UTF-8');
    }
  }
}
