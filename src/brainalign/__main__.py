from brainalign.cli import main

main()
