import { zValidator } from "@hono/zod-validator";
import type { z } from "zod";
import { AppError } from "../errors";

/** Failures become VALIDATION_ERROR with the paths at fault. */
const refuse =
  (what: string) =>
  (
    result: { success: true } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } },
  ): void => {
    if (!result.success) {
      const details = result.error.issues.slice(0, 20).map((issue) => ({
        path: issue.path.map(String).join("."),
        message: issue.message,
      }));
      throw new AppError("VALIDATION_ERROR", `The ${what} is not valid`, { details });
    }
  };

/** Validates the JSON body before the handler runs. */
export const validJson = <T extends z.ZodType>(schema: T) => zValidator("json", schema, refuse("request body"));

/** Validates the query string (each parameter once; a repeated one is a validation error). */
export const validQuery = <T extends z.ZodType>(schema: T) => zValidator("query", schema, refuse("query string"));

/** Validates the path parameters. */
export const validParams = <T extends z.ZodType>(schema: T) => zValidator("param", schema, refuse("path"));
