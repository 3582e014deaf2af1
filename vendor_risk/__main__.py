from vendor_risk.cli import main

main()
