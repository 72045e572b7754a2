import { AppError } from "../errors";

/** `id` and `rawId` are two spellings of one value; a response where they differ is forged. */
export function assertIdMatchesRawId(response: { id: string; rawId: string }): void {
  if (response.id !== response.rawId) {
    throw new AppError("VALIDATION_ERROR", "credential.id and credential.rawId must be equal");
  }
}
