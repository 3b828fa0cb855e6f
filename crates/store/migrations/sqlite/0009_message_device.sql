-- The bot device that last set out to send a request's context message.
-- Several processes each have a bot device of their own, and a message's
-- transaction id only deduplicates within one device: a process taking
-- over from one that died between sending and recording must first look
-- for the message in the room instead of sending it again.
ALTER TABLE accepted_requests ADD COLUMN message_device TEXT;
