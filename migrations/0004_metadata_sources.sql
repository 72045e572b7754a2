CREATE TABLE `metadata_entries` (
	`source` text NOT NULL,
	`position` integer NOT NULL,
	`statement` text NOT NULL,
	`status_reports` text NOT NULL,
	`icon` text,
	PRIMARY KEY(`source`, `position`)
);
--> statement-breakpoint
CREATE TABLE `metadata_keys` (
	`key` text NOT NULL,
	`source` text NOT NULL,
	`position` integer NOT NULL,
	PRIMARY KEY(`key`, `source`, `position`)
);
--> statement-breakpoint
CREATE TABLE `metadata_sources` (
	`name` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`no` integer NOT NULL,
	`next_update` text,
	`entry_count` integer NOT NULL,
	`loaded_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`checked_at` integer
);
