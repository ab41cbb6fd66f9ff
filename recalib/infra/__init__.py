"""Infrastructure the pipeline stands on: atomic files, work folders, process lifetime, memory and
meta-device checks. Nothing here knows about blocks, models or runtimes."""
