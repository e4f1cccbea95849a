"""The Discord side: client and slash commands, the run service shared with workers, the delivery
chain (interaction → channel webhook → channel message), progress and rendering, the arq worker."""
