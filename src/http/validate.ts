import { zValidator } from "@hono/zod-validator";
import type { z } from "zod";
import { AppError } from "../errors";

/** Validates the JSON body before the handler runs; failures become VALIDATION_ERROR with the paths at fault. */
export const validJson = <T extends z.ZodType>(schema: T) =>
  zValidator("json", schema, (result) => {
    if (!result.success) {
      const details = result.error.issues.slice(0, 20).map((issue) => ({
        path: issue.path.join("."),
        message: issue.message,
      }));
      throw new AppError("VALIDATION_ERROR", "The request body is not valid", details);
    }
  });
