"""Models recalib did not build: a user's factory and a ``torch.export`` archive, as model records.

A specification (:mod:`recalib.spec`) names one of them as:

* ``FILE.py:FACTORY[:K=V,...]`` or ``package.module:FACTORY[:K=V,...]``: a function (or class) that
  returns an ``nn.Module``, called with the keyword arguments given
  (:class:`~recalib.sources.factory.FactoryRecord`). Loading one runs the user's code: the file or
  module is imported and the factory called, in this process and in the timing worker processes
  (:mod:`recalib.sources.user_code`).
* ``FILE.pt2``: an ``ExportedProgram`` saved by ``torch.export.save``
  (:class:`~recalib.sources.program.ProgramRecord`), read with torch's weights-only unpickler:
  archives that hold pickled Python objects are refused.

Both answer the questions a :class:`~recalib.record.ModelRecord` answers (build, build on the
meta device, the input it takes, a description), so every command takes them through the same
spec and preparation. The input size is the one rule of :mod:`recalib.sources.input_size`.
Nothing here is ever imported or run because a file (a checkpoint, an ONNX graph) says so: only
a specification the user typed names code to run.
"""
