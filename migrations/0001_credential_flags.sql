ALTER TABLE `credentials` ADD `flag` text;--> statement-breakpoint
ALTER TABLE `credentials` ADD `flagged_at` integer;