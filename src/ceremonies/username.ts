/**
 * One account per name however it is typed: surrounding space trimmed, Unicode composed (NFC)
 * and case folded, so "Alice", " alice ", "ALICE" and a decomposed "Ålice" are one user each.
 * Folding goes through upper case first so the letters whose lower case has two forms meet:
 * "ß"/"SS"/"ss", final "ς"/"σ"/"Σ", ligatures such as "ﬁ". NFC again afterwards, because
 * case mapping can decompose ("İ" lowers to "i" + U+0307).
 */
export function normalizeUsername(input: string): string {
  return input.trim().normalize("NFC").toUpperCase().toLowerCase().normalize("NFC");
}
