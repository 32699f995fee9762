"""python -m hpadvisor"""

from hpadvisor.cli.entry import main

main()
