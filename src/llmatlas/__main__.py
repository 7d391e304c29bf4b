from llmatlas.cli import main

main()
