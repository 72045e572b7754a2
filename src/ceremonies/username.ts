/**
 * One account per name however it is typed: surrounding space trimmed, Unicode composed
 * (NFC) and case folded, so "Alice", " alice " and "ALICE" are the same user.
 */
export function normalizeUsername(input: string): string {
  return input.trim().normalize("NFC").toLowerCase();
}
