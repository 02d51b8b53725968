"""Loopback fakes of the video providers, speaking their real wire dialects over HTTP on 127.0.0.1:
`relay.FakeRelay` (openai, juheapi, xingchaoyiqing), `openrouter.FakeOpenRouter`, `hostile.HostileServer`
(downloads that misbehave), and `media` (small real MP4s, thumbnails and sprite sheets they serve)."""
