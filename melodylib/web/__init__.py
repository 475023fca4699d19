"""The browser side: a local page that runs an exported model with Magenta.js (`server`)."""
