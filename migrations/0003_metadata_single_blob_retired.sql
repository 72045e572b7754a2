DROP TABLE `metadata_blobs`;--> statement-breakpoint
DROP TABLE `metadata_entries`;