CREATE TABLE `metadata_blobs` (
	`no` integer PRIMARY KEY NOT NULL,
	`next_update` text NOT NULL,
	`entry_count` integer NOT NULL,
	`loaded_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `metadata_entries` (
	`key` text PRIMARY KEY NOT NULL,
	`blob_no` integer NOT NULL,
	`statement` text NOT NULL,
	`status_reports` text NOT NULL
);
