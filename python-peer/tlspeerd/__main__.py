from tlspeerd.serve import main

main()
