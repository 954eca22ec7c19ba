# Beam's --setup_file needs a setup.py to build the sdist that Dataflow workers install;
# all metadata lives in pyproject.toml.
import setuptools

setuptools.setup()
