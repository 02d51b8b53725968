-- Languages: a server's chosen language for public messages (/sora-admin language; NULL = the
-- server's Discord preferred locale), and the language a job's public messages are written in,
-- fixed when the job is requested (the engine reads it; it never asks Discord).
ALTER TABLE guild_settings ADD COLUMN language TEXT;
ALTER TABLE jobs ADD COLUMN locale TEXT;
