"""python -m hpadvisor"""

from hpadvisor.cli.app import main

main()
