from kubectl_meshdoctor.cli import main

main()
