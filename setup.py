"""Everything about the package is in pyproject.toml; this only makes a build start clean.

setuptools copies the packages into build/lib and packs what is there, so a file
deleted from the checkout since an earlier build (a case, a module) would still
ship. build_py empties its folder first."""
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py


class CleanBuildPy(build_py):
    def run(self) -> None:
        shutil.rmtree(self.build_lib, ignore_errors=True)
        super().run()


setup(cmdclass={"build_py": CleanBuildPy})
