module private.example/p

go 1.21
