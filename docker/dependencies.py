"""Print the requirements of the project and the named extras, from pyproject.toml alone, so a
Docker layer can install dependencies before the source is copied in."""

import sys
import tomllib

with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)
build = project["build-system"]["requires"]
runtime = project["project"].get("dependencies", [])
extras = [req for name in sys.argv[1:] for req in project["project"]["optional-dependencies"][name]]
print("\n".join(build + runtime + extras))
