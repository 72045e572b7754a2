import type { StandardSchemaV1 } from "@standard-schema/spec";
import { validator } from "hono-openapi";
import type { z } from "zod";
import { AppError } from "../errors";

// hono-openapi's validator is Hono's standard-schema validator that also records its schema
// for the OpenAPI document (src/http/openapi.ts): what validates a request is what documents it.

/** Failures become VALIDATION_ERROR with the paths at fault. */
const refuse =
  (what: string) =>
  (result: { success: true } | { success: false; error: readonly StandardSchemaV1.Issue[] }): void => {
    if (!result.success) {
      const details = result.error.slice(0, 20).map((issue) => ({
        path: (issue.path ?? [])
          .map((segment) => String(typeof segment === "object" ? segment.key : segment))
          .join("."),
        message: issue.message,
      }));
      throw new AppError("VALIDATION_ERROR", `The ${what} is not valid`, { details });
    }
  };

/** Validates the JSON body before the handler runs. */
export const validJson = <T extends z.ZodType>(schema: T) => validator("json", schema, refuse("request body"));

/** Validates the query string (each parameter once; a repeated one is a validation error). */
export const validQuery = <T extends z.ZodType>(schema: T) => validator("query", schema, refuse("query string"));

/** Validates the path parameters. */
export const validParams = <T extends z.ZodType>(schema: T) => validator("param", schema, refuse("path"));
