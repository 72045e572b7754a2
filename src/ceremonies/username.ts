import unhomoglyph from "unhomoglyph";

/**
 * One account per name however it is typed: surrounding space trimmed, compatibility forms
 * folded (NFKC: fullwidth "ａｌｉｃｅ", ligatures, circled and mathematical letters become
 * plain ones) and case folded, so "Alice", " alice ", "ALICE", "ａｌｉｃｅ" and a decomposed
 * "Ålice" are one name. Folding goes through upper case first so the letters whose lower case
 * has two forms meet: "ß"/"SS"/"ss", final "ς"/"σ"/"Σ". NFKC again afterwards, because case
 * mapping can decompose ("İ" lowers to "i" + U+0307). This is the stored username.
 */
export function normalizeUsername(input: string): string {
  return input.trim().normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC");
}

/**
 * Characters a username may not contain at all, because they show as nothing: the default
 * ignorable code points (zero-width spaces and joiners, variation selectors, U+034F, the soft
 * hyphen, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, …) and U+2800 BRAILLE
 * PATTERN BLANK, a visible-width blank that is not default ignorable.
 */
const invisible = /[\p{Default_Ignorable_Code_Point}\u2800]/u;

export function hasInvisibleCharacters(value: string): boolean {
  return invisible.test(value);
}

/**
 * The UTS #39 confusable skeleton of a normalized username: NFD, each character replaced by
 * its prototype in Unicode's confusables.txt (the data of the `unhomoglyph` package), NFD
 * again. Two names with one skeleton look alike ("аlice" with a Cyrillic а, "a1ice",
 * "rnalice"/"malice"), and only one of them may be an account: users.username_skeleton is
 * unique. Not for display: the skeleton of "m" is "rn".
 */
export function usernameSkeleton(normalized: string): string {
  return unhomoglyph(normalized.normalize("NFD")).normalize("NFD");
}
