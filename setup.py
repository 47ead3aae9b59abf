"""Builds zeekflow's native kernel (workflows/_kernel.c); everything else is declared in pyproject.toml.

The kernel is optional: where no C compiler is found (or ZEEKFLOW_NO_EXTENSION=1 is set), the install still
succeeds and every block takes the Python path (the summary then says ``kernel: python``).
"""

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing when the kernel cannot be compiled."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # no compiler at all (distutils raises its own error types)
            self._skipped(error)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:
            self._skipped(error)

    def _skipped(self, error: Exception) -> None:
        print(f"warning: zeekflow's native kernel was not built ({error}); blocks take the Python path. "
              "Install a C compiler and the Python headers, then reinstall, for the native kernel.")


kernel = Extension(
    "workflows._kernel",
    sources=["workflows/_kernel.c"],
    extra_compile_args=["-O2", "-std=c11"],
    libraries=["m"],
)

setup(
    ext_modules=[] if os.environ.get("ZEEKFLOW_NO_EXTENSION") == "1" else [kernel],
    cmdclass={"build_ext": OptionalBuildExt},
)
