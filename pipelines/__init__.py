"""The /autointel flow: stage functions, hand-off models, runner, run store."""
