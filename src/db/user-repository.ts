import { eq } from "drizzle-orm";
import type { Database } from "./database";
import { type UserRow, users } from "./schema";

export class UserRepository {
  constructor(private readonly db: Database) {}

  async findByUsername(username: string): Promise<UserRow | undefined> {
    return this.db.select().from(users).where(eq(users.username, username)).get();
  }

  async findById(id: string): Promise<UserRow | undefined> {
    return this.db.select().from(users).where(eq(users.id, id)).get();
  }
}
